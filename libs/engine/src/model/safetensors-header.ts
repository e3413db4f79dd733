import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { ModelLoadError } from './model-load-error';

export interface TensorInfo {
  dtype: string; // as written in the file: F32, BF16, F16, ...
  shape: number[];
  file: string;
}

// A header larger than this is not a model we can hold in memory anyway; it guards against reading garbage lengths.
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Reads only the JSON header of a .safetensors file: tensor names, dtypes and shapes. */
export function readSafetensorsHeader(file: string): Map<string, TensorInfo> {
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const lenBuf = Buffer.alloc(8);
    if (size < 8 || readSync(fd, lenBuf, 0, 8, 0) !== 8) {
      throw new ModelLoadError('MODEL_FILE_INVALID', `${file}: too short to be a safetensors file`, file);
    }
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) {
      throw new ModelLoadError('MODEL_FILE_INVALID', `${file}: header length ${headerLen} exceeds the file`, file);
    }
    const headerBuf = Buffer.alloc(headerLen);
    readSync(fd, headerBuf, 0, headerLen, 8);
    let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch (e) {
      throw new ModelLoadError('MODEL_FILE_INVALID', `${file}: header is not JSON (${(e as Error).message})`, file);
    }
    const out = new Map<string, TensorInfo>();
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      out.set(name, { dtype: info.dtype, shape: info.shape, file });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
