// The cuBLAS half of the CUDA backend: GEMM through cublasGemmEx (f32 accumulation) and the factory that
// joins it to CudaBackend. Built only where cuBLAS is found (see CMakeLists.txt).
#include <cublas_v2.h>

#include <memory>
#include <string>

#include "check.h"
#include "cuda_backend.h"
#include "cuda_backend_impl.h"

namespace sluice {
namespace cuda {
namespace {

void cublas_check(cublasStatus_t status, const char* expr, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw BackendError(std::string(file) + ":" + std::to_string(line) + ": " + expr + " failed: " +
                       cublasGetStatusName(status) + ": " + cublasGetStatusString(status));
  }
}

#define SLUICE_CUBLAS_CHECK(expr) cublas_check((expr), #expr, __FILE__, __LINE__)

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return CUDA_R_32F;
    case DType::F16: return CUDA_R_16F;
    case DType::BF16: return CUDA_R_16BF;
    default: throw BackendError(std::string("cuda gemm: unsupported dtype ") + dtype_name(dtype));
  }
}

class CublasGemm : public GemmEngine {
 public:
  explicit CublasGemm(cudaStream_t stream) {
    SLUICE_CUDA_CHECK(cudaMalloc(&workspace_, kWorkspaceBytes));
    const cublasStatus_t status = cublasCreate(&handle_);
    if (status != CUBLAS_STATUS_SUCCESS) {
      cudaFree(workspace_);
      SLUICE_CUBLAS_CHECK(status);
    }
    SLUICE_CUBLAS_CHECK(cublasSetStream(handle_, stream));
    // A fixed workspace keeps cuBLAS from allocating on its own, which graph capture requires.
    SLUICE_CUBLAS_CHECK(cublasSetWorkspace(handle_, workspace_, kWorkspaceBytes));
    // No TF32: an f32 GEMM must stay f32 to meet the 1e-5 tolerance.
    SLUICE_CUBLAS_CHECK(cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH));
  }

  ~CublasGemm() override {
    // Teardown must not throw; errors here are ignored.
    cublasDestroy(handle_);
    cudaFree(workspace_);
  }

  // Row-major out[M,N] = a[M,K] · w[N,K]ᵀ is, column-major, outᵀ[N,M] = w[N,K] · aᵀ[K,M]: w read transposed.
  void gemm(const TensorRef& out, const TensorRef& a, const TensorRef& w, cudaStream_t) override {
    const int K = static_cast<int>(a.dim(a.shape.size() - 1));
    const int M = static_cast<int>(a.numel() / K);
    const int N = static_cast<int>(w.dim(0));
    const float alpha = 1.f, beta = 0.f;
    SLUICE_CUBLAS_CHECK(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, w.data, cuda_type(w.dtype),
                                     K, a.data, cuda_type(a.dtype), K, &beta, out.data, cuda_type(out.dtype), N,
                                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }

 private:
  static constexpr size_t kWorkspaceBytes = size_t{32} << 20;
  cublasHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
};

}  // namespace
}  // namespace cuda

std::shared_ptr<Backend> make_cuda_backend(int device) {
  return std::make_shared<cuda::CudaBackend>(
      device, [](cudaStream_t stream) { return std::make_unique<cuda::CublasGemm>(stream); });
}

}  // namespace sluice
