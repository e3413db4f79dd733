import { KernelError, type KernelErrorCode } from '../src';
import { backendFor, expectKernelError } from './helpers';

describe('KernelError.retriable', () => {
  it('is true for out of memory only', () => {
    const codes: KernelErrorCode[] = ['E_ARG_TYPE', 'E_FREED', 'E_DEVICE', 'E_DTYPE', 'E_SHAPE', 'E_RANGE', 'E_UNSUPPORTED', 'E_ALLOC', 'E_IO', 'E_FORMAT', 'E_BACKEND', 'E_LOAD'];
    const retriable = codes.filter((code) => new KernelError('m', code, 'op', 'arg').retriable);
    expect(retriable).toEqual(['E_ALLOC']);
    expect(new KernelError('m', 'E_SOMETHING_NEW', 'op', 'arg').retriable).toBe(false);
  });

  it('is set on errors the native layer throws', () => {
    const b = backendFor('cpu');
    const err = expectKernelError(() => b.fromHost(new Float32Array(3), [2, 2], 'f32'), 'E_SHAPE', 'fromHost', 'data');
    expect(err.retriable).toBe(false);
  });
});
