/** Stable codes of KernelError; the native layer and the TS layer use the same set. */
export type KernelErrorCode =
  | 'E_ARG_TYPE' // an argument of the wrong JS type (not a Tensor, not a number)
  | 'E_FREED' // a tensor used after free()
  | 'E_DEVICE' // a tensor on another device than the backend
  | 'E_DTYPE' // a dtype the op does not accept
  | 'E_SHAPE' // shapes that do not fit together
  | 'E_RANGE' // an index (token, block, slot, position) or scalar out of range
  | 'E_UNSUPPORTED' // a feature this backend or build lacks (graphs on CPU, CUDA without a GPU)
  | 'E_ALLOC' // out of memory
  | 'E_IO' // a weight file that cannot be read
  | 'E_FORMAT' // a weight file that is not valid safetensors
  | 'E_BACKEND' // a failure inside a backend (a CUDA error, for instance)
  | 'E_LOAD'; // the native addon could not be loaded

/**
 * Whether the same call, made again unchanged, may succeed (kafkajs's `retriable`). Only out of memory may: memory
 * freed meanwhile (tensors, the caching pool, another process) can let it through; every other code is the
 * caller's arguments, this build or a broken device, which a retry does not change.
 */
const RETRIABLE: Record<KernelErrorCode, boolean> = {
  E_ARG_TYPE: false,
  E_FREED: false,
  E_DEVICE: false,
  E_DTYPE: false,
  E_SHAPE: false,
  E_RANGE: false,
  E_UNSUPPORTED: false,
  E_ALLOC: true,
  E_IO: false,
  E_FORMAT: false,
  E_BACKEND: false, // a CUDA error may leave the context unusable
  E_LOAD: false,
};

/** Every failure of the op set, the library's one error class: names the op and the argument at fault. */
export class KernelError extends Error {
  /** From the code (an unknown code is not); set here, so errors the native layer throws carry it too. */
  readonly retriable: boolean;
  constructor(
    message: string,
    readonly code: KernelErrorCode | string,
    readonly op: string,
    readonly arg: string,
  ) {
    super(message);
    this.name = 'KernelError';
    this.retriable = RETRIABLE[code as KernelErrorCode] ?? false;
  }
}
