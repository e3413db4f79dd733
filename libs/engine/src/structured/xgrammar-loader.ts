// Loads XGrammar's WebAssembly build (@mlc-ai/web-xgrammar, pinned in package.json) into this CommonJS package.
// The package ships a UMD file inside a "type": "module" package, so Node refuses to require() it and an ESM
// import of it finds no exports; we compile its text as a CommonJS function instead. Two exact edits make that
// work, each checked to apply once so a different file version fails loudly here rather than oddly later.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { compileFunction } from 'node:vm';
import type * as XGrammarApi from '@mlc-ai/web-xgrammar';

/** An Emscripten std::vector<int32_t>: what the matcher's synchronous mask call returns. */
export interface WasmIntVector {
  size(): number;
  get(i: number): number;
  delete(): void;
}

/** The C++ GrammarMatcher as the binding exposes it: the synchronous calls the per-step path needs. */
export interface WasmMatcher {
  AcceptToken(token: number, verbose: boolean): boolean;
  GetNextTokenBitmask(vocabSize: number): WasmIntVector;
  IsTerminated(): boolean;
  delete(): void;
}

/** The raw binding, available once any of the package's async calls has initialised it. */
export interface WasmBinding {
  GrammarMatcher: new (compiledGrammar: unknown, overrideStopTokens: undefined, terminateWithoutStopToken: boolean, maxRollbackTokens: number) => WasmMatcher;
  vecIntToView(v: WasmIntVector): Int32Array;
}

export type XGrammarModule = typeof XGrammarApi & {
  binding(): WasmBinding;
  /** XGrammar's first error message since the last read (its failed check, without the source path); reading clears it. */
  lastError(): string | undefined;
};

// [what the file says, what it must say here]
const EDITS: ReadonlyArray<readonly [string, string]> = [
  // The one dynamic import: vm-compiled code has no import callback, and require gives the same module.
  ["await import('module')", "require('module')"],
  // Exposes the initialised binding (so masks are built synchronously inside an engine step) and keeps the
  // message of a failed check for the request's error instead of printing it to stderr.
  ['binding = await Module();', 'binding = await Module({ printErr: (m) => { exports.__lastError ??= String(m); } }); exports.__binding = binding;'],
];

let loaded: XGrammarModule | undefined;

/** The XGrammar module, loaded once per process. Throws when the installed package is not the pinned build. */
export function loadXGrammar(): XGrammarModule {
  if (loaded) return loaded;
  const file = require.resolve('@mlc-ai/web-xgrammar');
  let text = readFileSync(file, 'utf8');
  for (const [from, to] of EDITS) {
    const count = text.split(from).length - 1;
    if (count !== 1) throw new Error(`${file}: expected exactly one "${from}", found ${count}; is @mlc-ai/web-xgrammar the pinned version?`);
    text = text.replace(from, to);
  }
  const factory = compileFunction(text, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file });
  const mod: { exports: Record<string, unknown> } = { exports: {} };
  factory.call(mod.exports, mod.exports, require, mod, file, dirname(file));
  const exports = mod.exports;
  const binding = (): WasmBinding => {
    if (!exports.__binding) throw new Error('XGrammar binding used before initialisation (await a TokenizerInfo first)');
    return exports.__binding as WasmBinding;
  };
  const lastError = (): string | undefined => {
    const m = exports.__lastError as string | undefined;
    exports.__lastError = undefined;
    // "[FATAL] /path/file.cc:902: Unsupported type ..." -> "Unsupported type ..."
    return m?.replace(/^\[\w+\] \S+:\d+: /, '');
  };
  loaded = Object.assign(Object.create(null) as object, exports, { binding, lastError }) as XGrammarModule;
  return loaded;
}
