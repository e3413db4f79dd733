// Writes .safetensors files for tests: the same layout the loader parses (u64 header length, JSON, data).

type StDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8';

export interface StTensor {
  dtype: StDType;
  shape: number[];
  data: ArrayLike<number> | BigInt64Array;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round-to-nearest-even bf16 bits of a float. */
export function toBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** f16 bits of a float (normal range; tests stay well inside it). */
export function toF16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  const mant = bits & 0x7fffff;
  let h = sign | (exp << 10) | (mant >>> 13);
  if ((mant & 0x1fff) > 0x1000 || ((mant & 0x1fff) === 0x1000 && (h & 1))) h += 1;
  return h;
}

const SIZE: Record<StDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 };

export function safetensorsFile(tensors: Record<string, StTensor>, misalign = 0): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const n = t.data.length;
    const buf = Buffer.alloc(n * SIZE[t.dtype]);
    for (let i = 0; i < n; i++) {
      const v = t.data[i];
      if (t.dtype === 'F32') buf.writeFloatLE(Number(v), i * 4);
      else if (t.dtype === 'BF16') buf.writeUInt16LE(toBf16(Number(v)), i * 2);
      else if (t.dtype === 'F16') buf.writeUInt16LE(toF16(Number(v)), i * 2);
      else if (t.dtype === 'I32') buf.writeInt32LE(Number(v), i * 4);
      else if (t.dtype === 'I64') buf.writeBigInt64LE(BigInt(v), i * 8);
      else buf.writeUInt8(Number(v), i);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + buf.length] };
    chunks.push(buf);
    offset += buf.length;
  }
  // Real files pad the header to 8 bytes so data is aligned; misalign adds bytes to break that on purpose.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8 + misalign);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), ...chunks]);
}
