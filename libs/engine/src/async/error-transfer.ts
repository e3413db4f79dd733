import {
  EngineError,
  EngineInvariantError,
  InvalidEngineOptionsError,
  InvalidSamplingParamsError,
  InvalidStructuredOutputError,
  RequestAbortedError,
  RequestRejectedError,
} from '../errors';
import { ModelLoadError } from '../model/model-load-error';
import { TokenizerError } from '../tokenizer/tokenizer-error';

/** An error as it crosses the worker boundary: structured clone keeps neither the class nor the extra fields. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** Own enumerable fields: code, requestId, reason, param, option, file, tensor... */
  fields: Record<string, unknown>;
}

// The typed errors the engine throws, by name; a caller sees the same class and fields as in-process.
const TYPED: Record<string, new (...args: never[]) => Error> = {
  EngineError,
  EngineInvariantError,
  InvalidEngineOptionsError,
  InvalidSamplingParamsError,
  InvalidStructuredOutputError,
  RequestAbortedError,
  RequestRejectedError,
  ModelLoadError,
  TokenizerError,
};

export function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    // Only what structured clone carries; a field that cannot cross (a function, a handle) is dropped.
    try {
      fields[k] = structuredClone(v);
    } catch {
      fields[k] = String(v);
    }
  }
  return { name: e.name, message: e.message, stack: e.stack, fields };
}

/** The typed error again; anything unknown becomes EngineError('INTERNAL') naming the original. */
export function reviveError(s: SerializedError): Error {
  const cls = TYPED[s.name];
  if (!cls) {
    const e = new EngineError('INTERNAL', `engine worker: ${s.name}: ${s.message}`);
    if (s.stack) e.stack = `${e.stack}\nworker ${s.stack}`;
    return e;
  }
  // Built without running the constructor, which would reformat the message it already holds.
  const e = Object.create(cls.prototype) as Error;
  Object.assign(e, s.fields);
  Object.defineProperty(e, 'message', { value: s.message, writable: true, configurable: true });
  Object.defineProperty(e, 'stack', { value: s.stack ?? `${s.name}: ${s.message}`, writable: true, configurable: true });
  return e;
}
