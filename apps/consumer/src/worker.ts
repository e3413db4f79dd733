import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { ConsumerConfig } from './config';
import type { InferenceEngine } from './engine/inference-engine';
import { EngineError, InvalidJobError, isRetriable } from './errors';
import type { Exporter, ExportItem, StagedRange } from './export/exporter';
import { BackpressureController, type FlowState } from './flow/backpressure';
import { PartitionHealth, type PartitionPending } from './flow/partition-health';
import { classify, type Verdict } from './jobs/classify';
import { ClassifyAhead } from './jobs/classify-ahead';
import { JobDecoder } from './jobs/job-decoder';
import { InFlightIds, jobKey } from './jobs/in-flight-ids';
import { deadLetter, errorCompletion, successCompletion, writesRecord, type Origin, type Outcome } from './jobs/outcome';
import { wireCodecs, type Completion, type PromptJob, type WireCodecs } from './jobs/schema';
import { AtLeastOnceSink, TransactionalSink, type CommitSink } from './kafka/commit-sink';
import { RecordFitter } from './kafka/record-fitter';
import { TopicLimits } from './kafka/topic-limits';
import { OffsetTracker, type DonePrefix } from './offsets/offset-tracker';
import { LogLimiter } from './observability/log-limiter';
import { PartitionLag } from './observability/partition-lag';
import type { WorkerMetrics } from './observability/metrics';

interface PartitionState {
  partition: number;
  tracker: OffsetTracker<Outcome>;
  /** Engine request id (jobKey) by offset of jobs still in the engine, for aborts on revocation and shutdown. */
  running: Map<bigint, string>;
  committing: Promise<void> | undefined;
  /** The last fetched batch was taken whole and reached the partition's end: nothing more is waiting to be read. */
  caughtUp: boolean;
  /** A committed range whose parts are not in their manifests yet (the export failed after the commit). */
  unlisted: StagedRange | undefined;
  revoked: boolean;
}

export interface WorkerDeps {
  config: ConsumerConfig;
  kafka: Kafka;
  engine: InferenceEngine;
  exporter?: Exporter;
  metrics: WorkerMetrics;
  log: Logger;
}

const FENCED = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'INVALID_PRODUCER_ID_MAPPING']);
const errorType = (err: unknown) => (err as { type?: string }).type ?? '';
/** Messages of a batch posted to the decode thread ahead of the one being taken, so the round trip is pipelined. */
const DECODE_AHEAD = { items: 256, bytes: 16 * 2 ** 20 };
/** How often the watchdog looks for a pause nothing calls for and for stalled partitions. */
const WATCHDOG_INTERVAL_MS = 1000;
/** How often sluice_partition_lag is read from the broker (two small admin requests). */
const LAG_INTERVAL_MS = 2000;

/**
 * The worker: a consumer group on the jobs topic feeding the engine. Jobs are taken in offset order and finish in
 * any order; every commit interval each partition's done prefix is written as export parts, produced and committed
 * in one step (one Kafka transaction in exactly-once mode), and only then listed in the export manifests.
 * Fetching pauses while the engine or the uncommitted backlog is full.
 */
export class Worker {
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly sink: CommitSink;
  private readonly partitions = new Map<number, PartitionState>();
  private readonly acquiring = new Map<number, Promise<PartitionState>>();
  private readonly flow: BackpressureController;
  private readonly codecs: WireCodecs;
  private readonly decoder: JobDecoder;
  private readonly limits: TopicLimits;
  private readonly fitter: RecordFitter;
  private inFlight = 0;
  private uncommitted = 0;
  private commitTimer: NodeJS.Timeout | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private readonly lag: PartitionLag;
  private lagUpdating = false;
  private assigned: number[] = [];
  private readonly health: PartitionHealth;
  private readonly ids = new InFlightIds();
  private readonly quiet = new LogLimiter();
  private joined = false;
  private draining = false;
  private fatal: Error | undefined;
  private readonly drainWaiters: Array<() => void> = [];

  constructor(private readonly d: WorkerDeps) {
    const c = d.config;
    this.consumer = d.kafka.consumer({ groupId: c.groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250, sessionTimeout: c.sessionTimeoutMs, heartbeatInterval: Math.min(3_000, Math.floor(c.sessionTimeoutMs / 3)), readUncommitted: false });
    this.admin = d.kafka.admin();
    this.limits = new TopicLimits(this.admin, d.log);
    this.lag = new PartitionLag(this.admin, d.metrics, c.jobsTopic, c.groupId);
    this.sink =
      c.delivery === 'exactly-once'
        ? new TransactionalSink(d.kafka, { transactionalIdPrefix: c.transactionalIdPrefix, jobsTopic: c.jobsTopic, groupId: c.groupId }, d.log, this.limits)
        : new AtLeastOnceSink(d.kafka, this.consumer, c.jobsTopic, this.limits);
    this.codecs = wireCodecs({ registryUrl: c.schemaRegistryUrl, resultsTopic: c.resultsTopic, dlqTopic: c.dlqTopic });
    this.decoder = new JobDecoder({ registry: this.codecs.registry, limits: c.decodeLimits, timeoutMs: c.decodeTimeoutMs, log: d.log.child({ component: 'decode' }) });
    this.fitter = new RecordFitter({ limits: this.limits, codecs: this.codecs, topics: c, log: d.log });
    this.flow = new BackpressureController({ maxInFlight: c.maxInFlight, maxUncommitted: c.maxUncommitted, maxEngineWaiting: c.maxEngineWaiting });
    this.health = new PartitionHealth({ stallTimeoutMs: c.stallTimeoutMs, maxCommitFailures: c.maxCommitFailures });
  }

  get ready(): boolean {
    return this.notReady() === undefined;
  }

  /** Why /readyz fails, in one line; undefined when ready. */
  notReady(): string | undefined {
    if (this.fatal) return `the Kafka consumer crashed: ${this.fatal.message}`;
    if (!this.joined) return 'not in the consumer group yet';
    if (this.draining) return 'draining';
    return this.health.problem();
  }

  get healthy(): boolean {
    return !this.fatal;
  }

  /** Resolves when the consumer crashed for good; main exits non-zero then. */
  readonly crashed = new Promise<Error>((resolve) => (this.onCrash = resolve));
  private onCrash: (e: Error) => void = () => undefined;

  async start(): Promise<void> {
    const { config: c, log } = this.d;
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => this.onAssignment(e.payload.memberAssignment[c.jobsTopic] ?? []));
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      if (e.payload.restart) return;
      this.fatal = e.payload.error;
      log.error({ err: e.payload.error }, 'kafka consumer crashed and will not restart');
      this.onCrash(e.payload.error);
    });
    await this.decoder.start();
    await this.admin.connect();
    // kafkajs's admin knows no broker until its first metadata request, and its first group lookup (the first partition's
    // committed offset) would otherwise wait out a retry, about 300 ms, for one.
    await this.admin.describeCluster();
    // Every record is fitted to its topic's max.message.bytes: read (and log) them now; a read that fails fails the start.
    await Promise.all([c.resultsTopic, c.dlqTopic].map((t) => this.limits.maxMessageBytes(t)));
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [c.jobsTopic], fromBeginning: true });
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.eachBatch(p) });
    this.commitTimer = setInterval(() => this.commitAll(), c.commitIntervalMs);
    this.watchdogTimer = setInterval(() => this.watch(), WATCHDOG_INTERVAL_MS);
    this.lagTimer = setInterval(() => void this.updateLag(), LAG_INTERVAL_MS);
    log.info({ topic: c.jobsTopic, group: c.groupId, delivery: c.delivery, engine: this.d.engine.model }, 'worker started');
  }

  /**
   * Graceful stop: no more fetching, in-flight jobs get up to drainTimeoutMs, what is done is exported and committed,
   * then the group is left. Jobs still running at the deadline are aborted and stay uncommitted (redelivered later).
   */
  async stop(): Promise<void> {
    const { config: c, log } = this.d;
    if (this.draining) return;
    this.draining = true;
    log.info({ in_flight: this.inFlight, drain_timeout_ms: c.drainTimeoutMs }, 'draining');
    this.consumer.pause([{ topic: c.jobsTopic }]);
    const drained = await this.waitForDrain(c.drainTimeoutMs);
    if (!drained) {
      log.warn({ in_flight: this.inFlight }, 'drain timeout: aborting jobs still running; they stay uncommitted');
      for (const st of this.partitions.values()) for (const id of st.running.values()) this.d.engine.abort(id);
    }
    clearInterval(this.commitTimer);
    clearInterval(this.watchdogTimer);
    clearInterval(this.lagTimer);
    await this.commitAll();
    await this.consumer.disconnect();
    await this.decoder.close();
    await this.sink.close();
    await this.admin.disconnect();
    log.info({ uncommitted: this.uncommitted }, 'worker stopped');
  }

  private waitForDrain(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private flowState(): FlowState {
    const load = this.d.engine.load();
    // With none of our jobs in the engine, what it still counts are aborted leftovers about to be dropped, not ours.
    return { inFlight: this.inFlight, uncommitted: this.uncommitted, engineWaiting: this.inFlight === 0 ? 0 : load.waiting + load.queued };
  }

  /** Applies a pause/resume transition and refreshes the gauges; called whenever a count changes. */
  private updateFlow(): void {
    const { metrics, config: c, engine } = this.d;
    const load = engine.load();
    metrics.inFlight.set(this.inFlight);
    metrics.uncommitted.set(this.uncommitted);
    metrics.queueDepth.set(load.waiting + load.queued);
    metrics.running.set(load.running);
    metrics.waiting.set(load.waiting);
    metrics.kvUsage.set(load.kvUsage);
    metrics.kvFree.set(load.freeKvBlocks);
    if (this.inFlight === 0) this.drainWaiters.splice(0).forEach((w) => w());
    const t = this.flow.update(this.flowState());
    if (t === 'pause') {
      this.consumer.pause([{ topic: c.jobsTopic }]);
      metrics.paused.set(1);
      this.d.log.debug({ in_flight: this.inFlight, uncommitted: this.uncommitted }, 'backpressure: paused');
      // A full uncommitted backlog only drains by committing: commit now rather than at the next tick.
      if (this.uncommitted >= c.maxUncommitted) void this.commitAll();
    } else if (t === 'resume' && !this.draining) {
      this.consumer.resume([{ topic: c.jobsTopic }]);
      metrics.paused.set(0);
      this.d.log.debug({ in_flight: this.inFlight, uncommitted: this.uncommitted }, 'backpressure: resumed');
    }
  }

  /** The watchdog: resumes a pause nothing calls for any more (a missed re-check), then re-checks flow and stalls. */
  private watch(): void {
    const s = this.flowState();
    const why = this.draining ? undefined : this.flow.stuck(s);
    if (why) {
      this.d.log.warn({ reason: why, in_flight: s.inFlight, uncommitted: s.uncommitted, engine_waiting: s.engineWaiting }, 'backpressure watchdog: resuming fetching');
      this.flow.forceResume();
      this.consumer.resume([{ topic: this.d.config.jobsTopic }]);
      this.d.metrics.paused.set(0);
    }
    this.updateFlow();
    this.checkStalls();
  }

  /** Reads the lag of the assigned partitions from the broker; one read at a time, a failed one only logged. */
  private async updateLag(): Promise<void> {
    if (this.lagUpdating || this.draining) return;
    this.lagUpdating = true;
    try {
      await this.lag.update(this.assigned);
      this.quiet.reset('lag');
    } catch (err) {
      const heldBack = this.quiet.take('lag');
      if (heldBack !== undefined) this.d.log.warn({ err, held_back: heldBack }, 'reading the partition lag from the broker failed');
    } finally {
      this.lagUpdating = false;
    }
  }

  /** Marks partitions stalled or recovered (gauge and one log line each way). */
  private checkStalls(): void {
    const { metrics, config: c, log } = this.d;
    const pending = new Map<number, PartitionPending>();
    for (const st of this.partitions.values()) pending.set(st.partition, { inFlight: st.running.size, uncommitted: st.tracker.size - st.running.size, behind: !st.caughtUp });
    for (const ch of this.health.check(pending)) {
      metrics.stalled.set({ topic: c.jobsTopic, partition: String(ch.partition) }, ch.stalled ? 1 : 0);
      const fields = { partition: ch.partition, in_flight: ch.pending.inFlight, uncommitted: ch.pending.uncommitted, behind: ch.pending.behind, no_progress_ms: ch.idleMs };
      if (ch.stalled) log.warn(fields, 'partition stalled: work pending and no progress; /readyz fails');
      else log.info(fields, 'partition no longer stalled');
    }
    metrics.commitFailures.set(this.health.worstCommitFailures());
  }

  /** Records a commit's result for readiness; says so once when failures make the worker unready. */
  private commitResult({ partition, revoked }: PartitionState, ok: boolean): void {
    if (revoked) return; // not ours any more: its health was forgotten
    if (ok) this.quiet.reset(`commit:${partition}`);
    if (ok) this.health.committed(partition);
    else if (this.health.commitFailed(partition)) this.d.log.warn({ partition, failures: this.d.config.maxCommitFailures }, 'commits keep failing; /readyz fails until one succeeds');
    this.d.metrics.commitFailures.set(this.health.worstCommitFailures());
  }

  private onAssignment(partitions: number[]): void {
    this.assigned = [...partitions];
    void this.updateLag();
    const keep = new Set(partitions);
    for (const p of [...this.partitions.keys()]) if (!keep.has(p)) void this.revoke(p, 'revoked by rebalance');
    this.joined = true;
    this.d.log.info({ partitions }, 'partitions assigned');
  }

  /** Drops a partition: its running jobs are aborted and nothing past its done watermark is committed. */
  private async revoke(partition: number, why: string): Promise<void> {
    const st = this.partitions.get(partition);
    if (!st) return;
    st.revoked = true;
    this.partitions.delete(partition);
    this.acquiring.delete(partition);
    for (const id of st.running.values()) this.d.engine.abort(id);
    this.uncommitted -= st.tracker.size;
    this.inFlight -= st.running.size;
    st.running.clear();
    this.ids.dropPartition(partition);
    this.health.forget(partition);
    this.d.metrics.forgetPartition(this.d.config.jobsTopic, partition);
    this.d.log.info({ partition, why, done_watermark: String(st.tracker.doneWatermark ?? '') }, 'partition dropped');
    this.updateFlow();
    await st.committing?.catch(() => undefined);
    await this.sink.release(partition).catch((err: Error) => this.d.log.warn({ err, partition }, 'releasing the partition producer failed'));
  }

  /**
   * First batch of a newly assigned partition: fence earlier owners, then read the committed offset as truth, and list
   * the export parts its metadata names in case the previous owner died between that commit and its manifest update.
   */
  private partitionState(partition: number): Promise<PartitionState> {
    const existing = this.partitions.get(partition);
    if (existing) return Promise.resolve(existing);
    let p = this.acquiring.get(partition);
    if (!p) {
      p = (async () => {
        await this.sink.acquire(partition);
        const { offset: start, metadata } = await this.committed(partition);
        await this.d.exporter?.repair(partition, metadata);
        const st: PartitionState = { partition, tracker: new OffsetTracker<Outcome>(partition, start), running: new Map(), committing: undefined, caughtUp: false, unlisted: undefined, revoked: false };
        this.partitions.set(partition, st);
        this.d.log.info({ partition, committed_offset: start === undefined ? null : String(start) }, 'partition acquired');
        return st;
      })();
      this.acquiring.set(partition, p);
      p.catch(() => this.acquiring.delete(partition));
    }
    return p;
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (this.draining) return;
    const st = await this.partitionState(batch.partition);
    const lagEnd = BigInt(batch.highWatermark);
    st.caughtUp = false;
    const ahead = new ClassifyAhead(batch.messages, (m) => this.classify(m), DECODE_AHEAD, (m) => m.value?.length ?? 0);
    for (const [i, message] of batch.messages.entries()) {
      if (!isRunning() || isStale() || this.draining || st.revoked) return;
      const offset = BigInt(message.offset);
      if (st.tracker.hasSeen(offset)) {
        resolveOffset(message.offset); // redelivered after a rebalance, or below the committed offset: already ours
        continue;
      }
      if (!this.flow.hasRoom(this.flowState())) {
        this.updateFlow();
        if (!this.flow.hasRoom(this.flowState())) return; // the rest of the batch is fetched again after resume
      }
      await this.take(st, message, ahead.result(i));
      resolveOffset(message.offset);
    }
    if (batch.messages.length === 0) resolveOffset(batch.lastOffset()); // only transaction markers: step over them
    st.caughtUp = lagEnd <= BigInt(batch.lastOffset()) + 1n;
    this.commitIfIdle();
    await heartbeat();
  }

  /** Decodes (on the decode thread) and validates one message; rejects only on a transient failure, to fetch it again. */
  private classify(message: KafkaMessage): Promise<Verdict> {
    const { config: c, engine } = this.d;
    const { maxMessageBytes, maxPromptBytes } = c.decodeLimits;
    const limits = { maxMessageBytes, maxPromptBytes, model: [engine.model, ...c.servedModelNames], now: Date.now() };
    return classify(message.value, limits, (b) => this.decoder.decode(b));
  }

  private async take(st: PartitionState, message: KafkaMessage, verdictOf: Promise<Verdict>): Promise<void> {
    const { config: c, engine, metrics, log } = this.d;
    const offset = BigInt(message.offset);
    const origin: Origin = { topic: c.jobsTopic, partition: st.partition, message, workerId: c.workerId, receivedAt: Date.now() };
    // Classified before it is tracked: a registry outage throws here and the message is fetched again.
    const verdict = await verdictOf;
    if (st.revoked) return;
    st.tracker.track(offset);
    this.uncommitted++;
    metrics.received.inc();
    if (verdict.kind === 'dead-letter') {
      log.warn({ job_id: verdict.job_id, batch_id: verdict.batch_id, partition: st.partition, offset: message.offset, code: verdict.code, reason: verdict.message }, 'job dead-lettered');
      this.finish(st, offset, { kind: 'dead-letter', key: message.key ?? null, deadLetter: deadLetter(verdict.code, verdict.message, origin, verdict) });
      return;
    }
    if (verdict.kind === 'error-completion') {
      log.warn({ job_id: verdict.job.job_id, batch_id: verdict.job.batch_id, partition: st.partition, offset: message.offset, code: verdict.code, reason: verdict.message }, 'job answered with an error');
      this.finish(st, offset, { kind: 'completion', completion: errorCompletion(verdict.job, verdict.code, verdict.message, engine.model, origin), origin });
      return;
    }
    if (!this.isDuplicate(st, offset, verdict.job)) this.run(st, offset, verdict.job, origin);
  }

  /** A second copy of a job running or uncommitted here is not run: it commits with its range and writes nothing. */
  private isDuplicate(st: PartitionState, offset: bigint, job: PromptJob): boolean {
    const first = this.ids.claim(job.batch_id, job.job_id, { partition: st.partition, offset });
    if (!first) return false;
    this.d.metrics.duplicates.inc();
    const where = { partition: st.partition, offset: String(offset), first_partition: first.partition, first_offset: String(first.offset) };
    this.d.log.info({ job_id: job.job_id, batch_id: job.batch_id, ...where }, 'duplicate job skipped: its first copy is running or uncommitted here');
    this.finish(st, offset, { kind: 'duplicate' });
    return true;
  }

  private run(st: PartitionState, offset: bigint, job: PromptJob, origin: Origin): void {
    const { engine, log } = this.d;
    const submittedAt = Date.now();
    // Keyed by (batch_id, job_id): jobs of two batches may share a job_id, and each copy runs.
    const id = jobKey(job.batch_id, job.job_id);
    st.running.set(offset, id);
    this.inFlight++;
    this.health.progressed(st.partition);
    this.updateFlow();
    engine
      .submit({ id, prompt: job.prompt ?? undefined, messages: job.messages ?? undefined, sampling: job.sampling ?? {}, priority: job.priority ?? undefined })
      .then(
        (result) => {
          const completion = successCompletion(job, result, engine.model, origin, submittedAt);
          this.observeTimes(job, origin, completion);
          return { kind: 'completion', completion, origin } as Outcome;
        },
        (err: unknown) => {
          const ids = { job_id: job.job_id, batch_id: job.batch_id };
          if (err instanceof InvalidJobError) {
            log.warn({ ...ids, offset: String(offset), code: err.deadLetterCode, reason: err.message }, 'job dead-lettered by the engine');
            return { kind: 'dead-letter', key: origin.message.key ?? null, deadLetter: deadLetter(err.deadLetterCode, err.message, origin, ids) } as Outcome;
          }
          if (err instanceof EngineError && err.code === 'REJECTED') {
            log.warn({ ...ids, offset: String(offset), reason: err.message }, 'engine rejected the job');
            return { kind: 'completion', completion: errorCompletion(job, 'ENGINE_REJECTED', err.message, engine.model, origin), origin } as Outcome;
          }
          if (isRetriable(err)) return undefined; // stays uncommitted, so it is fetched and run again
          throw err;
        },
      )
      .then(
        (outcome) => {
          // A revoked job settles once the engine has dropped it, so its load has fallen now: re-check backpressure.
          if (st.revoked || !st.running.delete(offset)) return this.updateFlow();
          this.inFlight--;
          if (outcome) this.finish(st, offset, outcome);
          else this.updateFlow();
        },
        (err: Error) => {
          this.fatal = err;
          log.error({ err, job_id: job.job_id, batch_id: job.batch_id }, 'engine failed');
          this.onCrash(err);
        },
      );
  }

  /** The per-job latency histograms (clamped at 0: the producer's clock may run ahead of this host's). */
  private observeTimes(job: PromptJob, origin: Origin, completion: Completion): void {
    const { metrics } = this.d;
    const seconds = (ms: number) => Math.max(0, ms) / 1000;
    metrics.queueTime.observe(seconds(origin.receivedAt - job.created_at));
    if (completion.timings.first_token_ms != null) metrics.timeToFirstToken.observe(seconds(completion.timings.first_token_ms));
    metrics.endToEnd.observe(seconds(completion.completed_at - job.created_at));
  }

  private finish(st: PartitionState, offset: bigint, outcome: Outcome): void {
    if (st.revoked) return;
    st.tracker.complete(offset, outcome);
    this.health.progressed(st.partition);
    this.updateFlow();
    this.commitIfIdle();
  }

  /**
   * Commits now, not at the next tick, once the engine is empty and every partition has been read to its end: no
   * more work is coming to share the commit with, so waiting would only delay the results (a batch's last jobs most).
   */
  private commitIfIdle(): void {
    if (this.inFlight > 0 || this.uncommitted === 0) return;
    for (const st of this.partitions.values()) if (!st.caughtUp) return;
    void this.commitAll();
  }

  private async commitAll(): Promise<void> {
    await Promise.all([...this.partitions.values()].map((st) => this.commitPartition(st)));
  }

  /** One export + produce + commit step for a partition's done prefix; serialized per partition. */
  private commitPartition(st: PartitionState): Promise<void> {
    if (st.committing) return st.committing;
    st.committing = this.commitPrefix(st).finally(() => (st.committing = undefined));
    return st.committing;
  }

  private async commitPrefix(st: PartitionState): Promise<void> {
    const { config: c, metrics, exporter, log } = this.d;
    for (;;) {
      // The next commit's metadata replaces the note that names the unlisted parts: list them first.
      if (st.unlisted && !(await this.list(st, st.unlisted))) return;
      const prefix = st.tracker.donePrefix(c.maxPartRecords);
      if (!prefix || st.revoked) return;
      let range = prefix;
      let staged: StagedRange | undefined;
      try {
        range = this.fitNote(prefix);
        // Fitted to each topic's max.message.bytes; an outcome changed to fit is replaced in place, so the export below gets the same record.
        const records = await this.fitter.records(range.items.map((i) => i.value).filter(writesRecord));
        const completions: ExportItem[] = [];
        for (const { offset, value } of range.items) if (value.kind === 'completion') completions.push({ offset, completion: value.completion });
        // Parts are written unlisted, the commit carries their note, and only a committed range reaches the manifests.
        if (exporter && completions.length > 0) staged = await exporter.stageRange(st.partition, completions);
        await this.sink.commit(st.partition, records, range.nextOffset, staged?.note ?? '');
      } catch (err) {
        metrics.commits.inc({ result: 'error' });
        this.commitResult(st, false);
        if (FENCED.has(errorType(err))) {
          log.warn({ err, partition: st.partition }, 'fenced: another worker owns this partition now');
          await this.revoke(st.partition, 'fenced');
          return;
        }
        // Retried every commit interval: during an outage its line comes at a decaying rate.
        const heldBack = this.quiet.take(`commit:${st.partition}`);
        if (heldBack !== undefined) log.error({ err, partition: st.partition, first_offset: String(range.firstOffset), last_offset: String(range.lastOffset), held_back: heldBack }, 'commit failed; the range is retried');
        if (c.delivery === 'exactly-once') await this.recover(st, range, staged);
        return;
      }
      if (!st.revoked) {
        st.tracker.release(range.lastOffset);
        this.ids.release(st.partition, range.lastOffset);
        this.commitResult(st, true);
        this.uncommitted -= range.items.length;
        metrics.commits.inc({ result: 'ok' });
        for (const { value } of range.items) this.count(value);
        const labels = { topic: c.jobsTopic, partition: String(st.partition) };
        metrics.committedOffset.set(labels, Number(range.nextOffset));
        metrics.doneWatermark.set(labels, Number(st.tracker.doneWatermark ?? range.nextOffset));
        log.debug({ partition: st.partition, next_offset: String(range.nextOffset), records: range.items.length }, 'committed');
        this.updateFlow();
      }
      // Committed: its parts are listed even if the partition was revoked meanwhile (the new owner's repair may race; adds are idempotent).
      if (staged && !(await this.list(st, staged))) return;
      if (st.revoked) return;
    }
  }

  /** The prefix, cut at a batch boundary if the export note of all its batches would not fit in the offset metadata. */
  private fitNote(prefix: DonePrefix<Outcome>): DonePrefix<Outcome> {
    const { exporter } = this.d;
    if (!exporter) return prefix;
    const n = exporter.itemsThatFit(prefix.items.map((i) => ({ offset: i.offset, batchId: i.value.kind === 'completion' ? i.value.completion.batch_id : undefined })));
    if (n === prefix.items.length) return prefix;
    const items = prefix.items.slice(0, n);
    const lastOffset = items[n - 1].offset;
    return { firstOffset: prefix.firstOffset, lastOffset, nextOffset: lastOffset + 1n, items };
  }

  /** Lists a committed range's parts in their manifests; on failure they are kept and retried before the next commit. */
  private async list(st: PartitionState, staged: StagedRange): Promise<boolean> {
    try {
      await this.d.exporter!.publish(staged);
      st.unlisted = undefined;
      return true;
    } catch (err) {
      st.unlisted = staged;
      this.d.log.error({ err, partition: st.partition }, 'listing committed parts in the export manifests failed; retried before the next commit');
      return false;
    }
  }

  /**
   * After a failed transaction: a fresh producer (kafkajs cannot reuse one after a failed EndTxn), then the committed
   * offset decides whether the commit went through after all (a lost EndTxn response), so the range is never sent
   * twice; if it did, its parts are listed as after any commit.
   */
  private async recover(st: PartitionState, range: DonePrefix<Outcome>, staged: StagedRange | undefined): Promise<void> {
    const { log } = this.d;
    try {
      await this.sink.acquire(st.partition);
      const { offset: committed } = await this.committed(st.partition);
      if (committed === undefined || committed <= range.firstOffset) return;
      log.warn({ partition: st.partition, committed_offset: String(committed) }, 'the failed commit had gone through');
      if (!st.revoked) {
        const kept = range.items.filter((i) => i.offset < committed);
        st.tracker.release(kept[kept.length - 1].offset);
        this.ids.release(st.partition, kept[kept.length - 1].offset);
        this.uncommitted -= kept.length;
        for (const { value } of kept) this.count(value);
      }
      if (staged && committed >= range.nextOffset) await this.list(st, staged);
    } catch (err) {
      log.error({ err, partition: st.partition }, 'recovering the partition producer failed; retried at the next commit');
    }
  }

  /** The group's committed offset of a partition and its metadata (the export note of the range it committed). */
  private async committed(partition: number): Promise<{ offset: bigint | undefined; metadata: string | null }> {
    const [offsets] = await this.admin.fetchOffsets({ groupId: this.d.config.groupId, topics: [this.d.config.jobsTopic] });
    const p = offsets.partitions.find((x) => x.partition === partition);
    const offset = p !== undefined && Number(p.offset) >= 0 ? BigInt(p.offset) : undefined;
    return { offset, metadata: p?.metadata ?? null };
  }

  private count(o: Outcome): void {
    const m = this.d.metrics;
    if (o.kind === 'duplicate') return; // counted when it was found
    if (o.kind === 'dead-letter') m.deadLettered.inc({ code: o.deadLetter.error_code });
    else if (o.completion.error) m.failed.inc({ code: o.completion.error.code });
    else {
      m.completed.inc();
      m.promptTokens.inc(o.completion.usage.prompt_tokens);
      m.cachedPromptTokens.inc(o.completion.usage.cached_tokens ?? 0);
      m.generationTokens.inc(o.completion.usage.completion_tokens);
    }
  }
}
