import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds from 0.1 s to a day: a batch job may wait in Kafka for hours before a worker takes it. */
const QUEUE_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600];
/** Seconds from 10 ms to a minute: time to first token behind the engine's own queue. */
const TOKEN_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The worker's Prometheus metrics, on their own registry so tests and several workers in one process never collide. */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly received = new Counter({ name: 'sluice_jobs_received_total', help: 'Jobs taken from the jobs topic', registers: [this.registry] });
  readonly completed = new Counter({ name: 'sluice_jobs_completed_total', help: 'Jobs committed with a successful completion', registers: [this.registry] });
  readonly failed = new Counter({ name: 'sluice_jobs_failed_total', help: 'Jobs committed with an error completion', labelNames: ['code'], registers: [this.registry] });
  readonly deadLettered = new Counter({ name: 'sluice_jobs_dead_lettered_total', help: 'Messages sent to the DLQ', labelNames: ['code'], registers: [this.registry] });
  readonly promptTokens = new Counter({ name: 'sluice_prompt_tokens_total', help: 'Prompt tokens of finished jobs (rate() gives tokens/s)', registers: [this.registry] });
  readonly cachedPromptTokens = new Counter({ name: 'sluice_cached_prompt_tokens_total', help: 'Prompt tokens of finished jobs served from the prefix cache (over sluice_prompt_tokens_total: the hit rate)', registers: [this.registry] });
  readonly generationTokens = new Counter({ name: 'sluice_generation_tokens_total', help: 'Generated tokens of finished jobs (rate() gives tokens/s)', registers: [this.registry] });
  readonly commits = new Counter({ name: 'sluice_commits_total', help: 'Offset commits (transactions in exactly-once mode)', labelNames: ['result'], registers: [this.registry] });
  readonly inFlight = new Gauge({ name: 'sluice_in_flight_jobs', help: 'Jobs submitted to the engine and not finished', registers: [this.registry] });
  readonly uncommitted = new Gauge({ name: 'sluice_uncommitted_jobs', help: 'Jobs taken and not yet committed', registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'sluice_engine_queue_depth', help: 'Requests waiting in the engine scheduler', registers: [this.registry] });
  readonly running = new Gauge({ name: 'sluice_engine_running_sequences', help: 'Sequences the engine is running', registers: [this.registry] });
  readonly waiting = new Gauge({ name: 'sluice_engine_waiting_sequences', help: 'Sequences waiting for the engine', registers: [this.registry] });
  readonly kvUsage = new Gauge({ name: 'sluice_engine_kv_cache_usage_ratio', help: 'Fraction of KV-cache blocks in use', registers: [this.registry] });
  readonly kvFree = new Gauge({ name: 'sluice_engine_kv_free_blocks', help: 'Free KV-cache blocks', registers: [this.registry] });
  readonly paused = new Gauge({ name: 'sluice_consumer_paused', help: '1 while backpressure pauses fetching', registers: [this.registry] });
  readonly lag = new Gauge({ name: 'sluice_partition_lag', help: 'Messages not yet committed: the broker\'s high watermark - the group\'s committed offset, per assigned partition', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly doneWatermark = new Gauge({ name: 'sluice_partition_done_watermark', help: 'Offset after the done prefix of the partition', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly committedOffset = new Gauge({ name: 'sluice_partition_committed_offset', help: 'Last offset committed by this worker', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly stalled = new Gauge({ name: 'sluice_partition_stalled', help: '1 while the partition has work pending and no progress for --stall-timeout', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly commitFailures = new Gauge({ name: 'sluice_consecutive_commit_failures', help: 'Most failed commits in a row of any partition (0 after a success)', registers: [this.registry] });
  readonly queueTime = new Histogram({ name: 'sluice_job_queue_seconds', help: 'Per successful job: from its created_at (when sluice produce made it) to this worker taking it off the jobs topic', buckets: QUEUE_BUCKETS, registers: [this.registry] });
  readonly timeToFirstToken = new Histogram({ name: 'sluice_job_time_to_first_token_seconds', help: 'Per successful job: from this worker taking it to its first generated token (the engine queue included)', buckets: TOKEN_BUCKETS, registers: [this.registry] });
  readonly endToEnd = new Histogram({ name: 'sluice_job_end_to_end_seconds', help: 'Per successful job: from its created_at to its completion (before its commit)', buckets: QUEUE_BUCKETS, registers: [this.registry] });
  readonly duplicates = new Counter({ name: 'sluice_jobs_duplicate_total', help: 'Copies of a (batch_id, job_id) already running or uncommitted here: not run, offset committed', registers: [this.registry] });

  constructor(defaults = true) {
    // Event-loop lag sampled every 100 ms, not prom-client's 10: a 10 ms timer wakes the main thread 100 times a
    // second, and on the engine's core every wakeup is taken from compute.
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'sluice_', eventLoopMonitoringPrecision: 100 });
  }

  forgetPartition(topic: string, partition: number): void {
    for (const g of [this.lag, this.doneWatermark, this.committedOffset, this.stalled]) g.remove({ topic, partition: String(partition) });
  }
}
