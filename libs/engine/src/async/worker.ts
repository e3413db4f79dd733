import { MessagePort, parentPort, workerData } from 'node:worker_threads';
import { LLMEngine } from '../frontend/llm-engine';
import { SamplingParams } from '../sampling-params';
import { serializeError } from './error-transfer';
import type { FromWorker, ToWorker, WorkerInit } from './protocol';

/**
 * The engine's step loop, in its own thread. One step per event-loop turn (setImmediate), so messages
 * (add, abort, shutdown) are handled between steps; with nothing to do it schedules nothing and the
 * thread sleeps until the next message.
 */
function requirePort(): MessagePort {
  if (!parentPort) throw new Error('async/worker must run in a worker_thread started by AsyncEngine');
  return parentPort;
}

const port = requirePort();

const post = (m: FromWorker) => port.postMessage(m);
const streaming = new Set<string>();
let engine: LLMEngine | undefined;
let stepQueued = false;
let waitingForGrammar = false;

function scheduleStep(): void {
  if (stepQueued || !engine?.hasUnfinishedRequests()) return;
  stepQueued = true;
  setImmediate(step);
}

function step(): void {
  stepQueued = false;
  if (!engine) return;
  let outputs;
  try {
    outputs = engine.step();
  } catch (e) {
    // A failed step leaves the batch in an unknown state: report it and end the thread.
    post({ type: 'fatal', error: serializeError(e) });
    stop();
    return;
  }
  const stalled = engine.stalledOnGrammar();
  if (stalled) {
    // Nothing could run: the next step waits for the grammar thread instead of spinning (or for a new request).
    if (!waitingForGrammar) {
      waitingForGrammar = true;
      void stalled.then(() => {
        waitingForGrammar = false;
        scheduleStep();
      });
    }
    return;
  }
  for (const o of outputs) if (o.finished) streaming.delete(o.requestId);
  const stats = engine.stats();
  for (const o of outputs) if (o.error) post({ type: 'failed', id: o.requestId, error: serializeError(o.error), stats });
  const sent = outputs.filter((o) => !o.error && (o.finished || streaming.has(o.requestId)));
  post({ type: 'outputs', outputs: sent, stats });
  scheduleStep();
}

function stop(): void {
  engine?.close();
  engine = undefined;
  port.close();
}

// Tokenizing is asynchronous: steps of other requests go on meanwhile, and an abort that arrives first wins.
async function add(e: LLMEngine, m: Extract<ToWorker, { type: 'add' }>): Promise<void> {
  try {
    await e.addRequest(m.id, m.input, m.checked ? SamplingParams.revive(m.checked) : (m.params ?? {}), { priority: m.priority });
  } catch (err) {
    if (engine) post({ type: 'rejected', id: m.id, error: serializeError(err), stats: engine.stats() });
    return;
  }
  if (!engine) return;
  if (m.stream) streaming.add(m.id);
  post({ type: 'accepted', id: m.id, stats: engine.stats() });
  scheduleStep();
}

function onMessage(m: ToWorker): void {
  if (!engine) return;
  switch (m.type) {
    case 'add':
      void add(engine, m);
      return;
    case 'abort':
      engine.abortRequest(m.id);
      streaming.delete(m.id);
      post({ type: 'aborted', id: m.id, stats: engine.stats() });
      return;
    case 'shutdown':
      stop();
      return;
  }
}

async function main(init: WorkerInit): Promise<void> {
  try {
    engine = await LLMEngine.create(init.options);
  } catch (e) {
    post({ type: 'loadFailed', error: serializeError(e) });
    port.close();
    return;
  }
  port.on('message', onMessage);
  post({ type: 'ready', modelName: engine.modelName, stats: engine.stats() });
}

void main(workerData as WorkerInit);
