// The JS-visible backend: memory, events, graphs and every op, each validated before dispatch.
#pragma once

#include <napi.h>

#include <memory>

#include "backend.h"

namespace sluice {

class NativeBackend : public Napi::ObjectWrap<NativeBackend> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NativeBackend(const Napi::CallbackInfo& info);

 private:
  Napi::Object new_tensor(Napi::Env env, const std::vector<int64_t>& shape, DType dtype, bool pinned);

  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetSupportsGraphs(const Napi::CallbackInfo& info);
  Napi::Value GetIndexChecks(const Napi::CallbackInfo& info);
  Napi::Value EmptyCache(const Napi::CallbackInfo& info);

  Napi::Value Empty(const Napi::CallbackInfo& info);
  Napi::Value EmptyPinned(const Napi::CallbackInfo& info);
  Napi::Value FromHost(const Napi::CallbackInfo& info);
  Napi::Value CopyFromHost(const Napi::CallbackInfo& info);
  Napi::Value ToHost(const Napi::CallbackInfo& info);
  Napi::Value View(const Napi::CallbackInfo& info);
  Napi::Value Narrow(const Napi::CallbackInfo& info);
  Napi::Value LoadSafetensors(const Napi::CallbackInfo& info);
  Napi::Value Synchronize(const Napi::CallbackInfo& info);
  Napi::Value MemoryStats(const Napi::CallbackInfo& info);

  Napi::Value CreateEvent(const Napi::CallbackInfo& info);
  Napi::Value RecordEvent(const Napi::CallbackInfo& info);
  Napi::Value WaitEvent(const Napi::CallbackInfo& info);
  Napi::Value ElapsedMs(const Napi::CallbackInfo& info);
  Napi::Value DestroyEvent(const Napi::CallbackInfo& info);
  Napi::Value BeginCapture(const Napi::CallbackInfo& info);
  Napi::Value EndCapture(const Napi::CallbackInfo& info);
  Napi::Value Replay(const Napi::CallbackInfo& info);
  Napi::Value DestroyGraph(const Napi::CallbackInfo& info);

  Napi::Value Embedding(const Napi::CallbackInfo& info);
  Napi::Value Scatter(const Napi::CallbackInfo& info);
  Napi::Value Copy(const Napi::CallbackInfo& info);
  Napi::Value RmsNorm(const Napi::CallbackInfo& info);
  Napi::Value FusedAddRmsNorm(const Napi::CallbackInfo& info);
  Napi::Value RotaryEmbedding(const Napi::CallbackInfo& info);
  Napi::Value Gemm(const Napi::CallbackInfo& info);
  Napi::Value SiluAndMul(const Napi::CallbackInfo& info);
  Napi::Value ReshapeAndCache(const Napi::CallbackInfo& info);
  Napi::Value SplitQkvRotaryCache(const Napi::CallbackInfo& info);
  Napi::Value PagedAttentionDecode(const Napi::CallbackInfo& info);
  Napi::Value PrefillAttention(const Napi::CallbackInfo& info);
  Napi::Value CopyBlocks(const Napi::CallbackInfo& info);
  Napi::Value SwapBlocks(const Napi::CallbackInfo& info);
  Napi::Value Sample(const Napi::CallbackInfo& info);
  Napi::Value LogSoftmaxTopK(const Napi::CallbackInfo& info);
  Napi::Value GatherLogProbs(const Napi::CallbackInfo& info);
  Napi::Value Argmax(const Napi::CallbackInfo& info);
  Napi::Value ApplyTokenBitmask(const Napi::CallbackInfo& info);

  std::shared_ptr<Backend> backend_;
};

}  // namespace sluice
