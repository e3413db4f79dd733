// Per-environment state of the addon (one per main thread or worker_thread) and its error channel.
#pragma once

#include <napi.h>

#include <string>

namespace sluice {

struct AddonData {
  Napi::FunctionReference tensor_ctor;
  Napi::FunctionReference backend_ctor;
  Napi::FunctionReference error_ctor;  // KernelError from src/errors.ts, registered at load
};

// Throws a KernelError(message, code, op, arg) into JS (a plain Error before registration).
[[noreturn]] void throw_kernel_error(Napi::Env env, const std::string& code, const std::string& op,
                                     const std::string& arg, const std::string& message);

}  // namespace sluice
