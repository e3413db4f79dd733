import { Worker } from 'node:worker_threads';
import { TokenizerError } from './tokenizer/tokenizer-error';

// The `tokenizers` binding only encodes asynchronously; this worker encodes and wakes the blocked caller.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Tokenizer } = require(workerData.binding);
const tok = Tokenizer.fromFile(workerData.file);
parentPort.on('message', async ({ text, addSpecialTokens, shared }) => {
  const view = new Int32Array(shared);
  let status = 3;
  try {
    const ids = (await tok.encode(text, null, { addSpecialTokens })).getIds();
    view[1] = ids.length;
    status = ids.length <= view.length - 2 ? 1 : 2;
    if (status === 1) view.set(ids, 2);
  } finally {
    Atomics.store(view, 0, status);
    Atomics.notify(view, 0);
  }
});
`;

const OK = 1;
const TOO_SMALL = 2;

/**
 * Synchronous text → token ids, so LLMEngine.addRequest can tokenize, check and queue a prompt in one call:
 * the encoding runs on a helper thread while this thread waits on a shared-memory flag.
 */
export class SyncEncoder {
  private readonly worker: Worker;

  constructor(tokenizerJson: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { binding: require.resolve('tokenizers'), file: tokenizerJson } });
    this.worker.unref();
  }

  encode(text: string, addSpecialTokens: boolean): number[] {
    // A byte-level BPE token covers at least one byte; the slack covers added special tokens.
    let capacity = Buffer.byteLength(text, 'utf8') + 16;
    for (;;) {
      const shared = new SharedArrayBuffer(4 * (capacity + 2));
      const view = new Int32Array(shared);
      this.worker.postMessage({ text, addSpecialTokens, shared });
      Atomics.wait(view, 0, 0);
      const status = Atomics.load(view, 0);
      if (status === OK) return Array.from(view.subarray(2, 2 + view[1]));
      if (status !== TOO_SMALL) throw new TokenizerError('TOKENIZER_INVALID', `tokenizer failed to encode a ${text.length}-character text`);
      capacity = view[1];
    }
  }

  close(): void {
    void this.worker.terminate();
  }
}
