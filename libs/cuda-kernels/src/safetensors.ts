// Parses a .safetensors header (8-byte little-endian length, then JSON) so the native side only maps bytes.
import { closeSync, openSync, readSync } from 'node:fs';
import type { DType } from './api';
import { KernelError } from './errors';
import type { SafetensorsEntry } from './native';

const DTYPES: Record<string, DType> = { F32: 'f32', F16: 'f16', BF16: 'bf16', I32: 'i32', I64: 'i64', U8: 'u8' };
const MAX_HEADER = 100 * 1024 * 1024;

function bad(path: string, what: string): never {
  throw new KernelError(`loadSafetensors: argument 'path' (${path}): ${what}`, 'E_FORMAT', 'loadSafetensors', 'path');
}

function readExact(fd: number, length: number, position: number, path: string): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) bad(path, `file ends inside the header (needed ${length} bytes at ${position})`);
    done += n;
  }
  return buf;
}

export interface SafetensorsHeader {
  dataStart: number;
  entries: SafetensorsEntry[];
}

export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new KernelError(`loadSafetensors: argument 'path' (${path}) cannot be opened: ${(err as Error).message}`, 'E_IO', 'loadSafetensors', 'path');
  }
  try {
    const size = readExact(fd, 8, 0, path).readBigUInt64LE(0);
    if (size > BigInt(MAX_HEADER)) bad(path, `header length ${size} is implausible`);
    const json = readExact(fd, Number(size), 8, path).toString('utf8');
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(json) as Record<string, unknown>;
    } catch (err) {
      bad(path, `header is not JSON (${(err as Error).message})`);
    }
    const entries: SafetensorsEntry[] = [];
    for (const [name, value] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dtype = typeof v.dtype === 'string' ? DTYPES[v.dtype] : undefined;
      if (!dtype) bad(path, `tensor '${name}' has unsupported dtype ${String(v.dtype)}`);
      const shape = v.shape;
      const offsets = v.data_offsets;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) bad(path, `tensor '${name}' has a bad shape`);
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isInteger(d) && d >= 0)) {
        bad(path, `tensor '${name}' has bad data_offsets`);
      }
      entries.push({ name, dtype, shape: shape as number[], begin: offsets[0] as number, end: offsets[1] as number });
    }
    return { dataStart: 8 + Number(size), entries };
  } finally {
    closeSync(fd);
  }
}
