// The worker's own rule for a job's sampling: @sluice/engine's wire-format mapping, from its light subpath (no model code, no native bindings).
import { samplingParamsFromWire, type WireSamplingParams } from '@sluice/engine/wire-format';
import { RowError } from './row-error';

export type EngineSampling = ReturnType<typeof samplingParamsFromWire>;

/**
 * The sampling as the engine takes it, or a RowError naming the parameter (`field 'n': ...`) for what the engine
 * refuses (a worker would dead-letter or reject the job). Errors are told apart by their stable code, not their class.
 */
export function engineSampling(sampling: WireSamplingParams | null | undefined): EngineSampling {
  try {
    return samplingParamsFromWire(sampling);
  } catch (err) {
    const e = err as Error & { code?: string; param?: string };
    // A constraint over the size bounds or a schema that is not JSON (whether it compiles, only a worker knows).
    if (e.code === 'INVALID_STRUCTURED_OUTPUT') throw new RowError(e.message, { cause: err });
    if (e.code !== 'INVALID_SAMPLING_PARAMS' || !e.param) throw err;
    throw new RowError(e.message.replace(`sampling parameter ${e.param}`, `field '${e.param}'`), { cause: err });
  }
}
