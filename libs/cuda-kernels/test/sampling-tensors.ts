// Per-row sampling parameters packed into the tensors `sample` takes (unset fields take the neutral value).
import type { Backend, SamplingTensors } from '../src';

export interface Row {
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  prompt?: number[];
  output?: number[];
  seed?: number;
  step?: number;
}

export function samplingTensors(b: Backend, rows: Row[]): SamplingTensors {
  const f32 = (f: (r: Row) => number) => b.fromHost(Float32Array.from(rows, f), [rows.length], 'f32');
  const packed = (lists: number[][]) => {
    const offsets = [0];
    for (const l of lists) offsets.push(offsets[offsets.length - 1] + l.length);
    return [b.fromHost(Int32Array.from(lists.flat()), [offsets[offsets.length - 1]], 'i32'), b.fromHost(Int32Array.from(offsets), [offsets.length], 'i32')];
  };
  const [promptTokens, promptOffsets] = packed(rows.map((r) => r.prompt ?? []));
  const [outputTokens, outputOffsets] = packed(rows.map((r) => r.output ?? []));
  return {
    temperature: f32((r) => r.temperature ?? 1),
    topK: b.fromHost(Int32Array.from(rows, (r) => r.topK ?? 0), [rows.length], 'i32'),
    topP: f32((r) => r.topP ?? 1),
    minP: f32((r) => r.minP ?? 0),
    repetitionPenalty: f32((r) => r.repetitionPenalty ?? 1),
    presencePenalty: f32((r) => r.presencePenalty ?? 0),
    frequencyPenalty: f32((r) => r.frequencyPenalty ?? 0),
    promptTokens,
    promptOffsets,
    outputTokens,
    outputOffsets,
    seeds: b.fromHost(BigInt64Array.from(rows, (r) => BigInt(r.seed ?? 1)), [rows.length], 'i64'),
    steps: b.fromHost(BigInt64Array.from(rows, (r) => BigInt(r.step ?? 0)), [rows.length], 'i64'),
  };
}
