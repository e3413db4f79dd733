// Fully populated sample records shared by this package's tests (not exported from the package).
import type { BatchManifest, Completion, DeadLetter, PromptJob } from '../src/types';

export function fullPromptJob(): PromptJob {
  return {
    job_id: 'job-1',
    batch_id: 'batch-1',
    prompt: null,
    messages: [
      { role: 'system', content: 'Be brief.', name: null },
      { role: 'user', content: 'Héllo, wörld ✓', name: 'ana' },
    ],
    model: 'tiny-llama',
    sampling: {
      n: 2, best_of: 3, temperature: 0.7, top_p: 0.9, top_k: 40, min_p: 0.05, seed: 1234567890123,
      presence_penalty: 0.5, frequency_penalty: -0.5, repetition_penalty: 1.1, stop: ['\n\n', 'END'], stop_token_ids: [2, 7],
      include_stop_str_in_output: true, ignore_eos: false, max_tokens: 64, min_tokens: 4, logprobs: 5, prompt_logprobs: 1,
      skip_special_tokens: true, use_beam_search: false, beam_width: 4, length_penalty: 0.8, early_stopping: 'never',
      guided_json: null, guided_regex: null, guided_choice: ['yes', 'no'], guided_grammar: null, guided_json_object: null,
    },
    priority: 3,
    metadata: { customer: 'acme', row: '17' },
    created_at: 1_764_000_000_000,
    deadline: 1_764_000_600_000,
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
  };
}

export function fullCompletion(): Completion {
  return {
    job_id: 'job-1',
    batch_id: 'batch-1',
    outputs: [
      {
        index: 0, text: 'Hi!', token_ids: [5, 9], finish_reason: 'stop', stop_reason: 'END', cumulative_logprob: -1.25,
        logprobs: [{ token: 5, logprob: -0.5, top: [{ token: 5, logprob: -0.5 }, { token: 6, logprob: -1.5 }] }, { token: 9, logprob: -0.75, top: [] }],
      },
      { index: 1, text: 'Hello', token_ids: null, finish_reason: 'length', stop_reason: null, cumulative_logprob: null, logprobs: null },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 5, cached_tokens: 8 },
    timings: { queued_ms: 1.5, first_token_ms: 20.25, total_ms: 40 },
    model: 'tiny-llama',
    worker_id: 'worker-a',
    metadata: { customer: 'acme' },
    error: null,
    completed_at: 1_764_000_000_500,
  };
}

export function fullDeadLetter(): DeadLetter {
  return {
    key: Buffer.from('job-9'),
    value: Buffer.from([0xff, 0x00, 0x13]),
    headers: { 'sluice-batch-id': Buffer.from('batch-1') },
    source_topic: 'sluice.jobs',
    source_partition: 2,
    source_offset: 9_007_199_254,
    error_code: 'BAD_FRAMING',
    error_message: 'bytes start with 0xff00',
    job_id: null,
    batch_id: 'batch-1',
    worker_id: 'worker-a',
    failed_at: 1_764_000_000_900,
    value_size: 3_000_000,
    value_sha256: 'b'.repeat(64),
    value_truncated: true,
    key_truncated: false,
    headers_truncated: true,
  };
}

export function fullBatchManifest(): BatchManifest {
  return { batch_id: 'batch-1', jobs_topic: 'sluice.jobs', job_count: 2000, skipped_rows: 3, source: 'data/prompts.jsonl', created_at: 1_764_000_000_000, completed_at: 1_764_000_001_000 };
}
