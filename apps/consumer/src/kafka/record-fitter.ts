import type { Logger } from 'pino';
import { deadLetter, replaceOutcome, type Outcome, type RecordOutcome } from '../jobs/outcome';
import type { Completion, DeadLetter } from '../jobs/schema';
import type { OutRecord } from './commit-sink';
import { fitCompletion, fitDeadLetter, RESULT_TOO_LARGE } from './record-fit';
import { BATCH_OVERHEAD_BYTES, type TopicLimits } from './topic-limits';

type CompletionOutcome = Extract<Outcome, { kind: 'completion' }>;
type LetterOutcome = Extract<Outcome, { kind: 'dead-letter' }>;

export interface FitterDeps {
  limits: Pick<TopicLimits, 'maxMessageBytes'>;
  codecs: { completions: { encode(c: Completion): Promise<Buffer> }; deadLetters: { encode(d: DeadLetter): Promise<Buffer> } };
  topics: { resultsTopic: string; dlqTopic: string };
  log: Logger;
}

/**
 * Encodes finished outcomes as records that fit their topics' max.message.bytes, so no record the broker would refuse
 * can block a partition: an oversized completion becomes a RESULT_TOO_LARGE error completion (or, if even that does
 * not fit, a dead letter), an oversized dead letter is cut (see fitDeadLetter). Each cut is logged at warn.
 */
export class RecordFitter {
  constructor(private readonly d: FitterDeps) {}

  /** One record per outcome. An outcome that had to change is replaced in place, so the export and the metrics see what the topic got. */
  records(outcomes: RecordOutcome[]): Promise<OutRecord[]> {
    return Promise.all(outcomes.map((o) => this.record(o)));
  }

  private async record(o: RecordOutcome): Promise<OutRecord> {
    if (o.kind === 'completion') {
      const record = await this.completion(o);
      if (record) return record;
    }
    return this.letter(o as LetterOutcome); // a completion that fits in no form has just been replaced by a dead letter
  }

  /** The completion's record, or undefined once the outcome was turned into a dead letter. */
  private async completion(o: CompletionOutcome): Promise<OutRecord | undefined> {
    const topic = this.d.topics.resultsTopic;
    const limit = await this.d.limits.maxMessageBytes(topic);
    const fit = await fitCompletion(o.completion, limit - BATCH_OVERHEAD_BYTES, `the ${limit}-byte max.message.bytes of topic "${topic}"`, (c) => this.d.codecs.completions.encode(c));
    const { job_id, batch_id } = o.completion;
    if (fit.cut === 'none') return { topic, message: { key: job_id, value: fit.value } };
    this.d.log.warn({ job_id, batch_id, topic, bytes: fit.wholeBytes, max_message_bytes: limit, cut: fit.cut }, `completion too large for its topic: ${fit.cut === 'unfit' ? 'dead-lettered' : `answered with ${RESULT_TOO_LARGE}`}`);
    if (fit.cut === 'unfit') {
      // Not even an error completion fits (its ids alone are too long): the job goes to the DLQ, cut there as needed.
      replaceOutcome(o, { kind: 'dead-letter', key: o.origin.message.key ?? null, deadLetter: deadLetter(RESULT_TOO_LARGE, fit.reason, o.origin, { job_id, batch_id }) });
      return undefined;
    }
    replaceOutcome(o, { ...o, completion: fit.completion });
    return { topic, message: { key: job_id, value: fit.value } };
  }

  /** The dead letter's record, keyed like the original message (its key cut too when it alone would not fit). */
  private async letter(o: LetterOutcome): Promise<OutRecord> {
    const topic = this.d.topics.dlqTopic;
    const limit = await this.d.limits.maxMessageBytes(topic);
    const fit = await fitDeadLetter(o.deadLetter, limit - BATCH_OVERHEAD_BYTES, (l) => this.d.codecs.deadLetters.encode(l));
    if (fit.cuts.length > 0) {
      const { letter } = fit;
      this.d.log.warn(
        { job_id: letter.job_id, batch_id: letter.batch_id, topic, source_partition: letter.source_partition, source_offset: letter.source_offset, bytes: fit.wholeBytes, fitted_bytes: fit.value.length, value_size: letter.value_size, max_message_bytes: limit, cuts: fit.cuts },
        'dead letter too large for its topic: cut to fit',
      );
      replaceOutcome(o, { kind: 'dead-letter', key: letter.key ?? null, deadLetter: letter });
    }
    return { topic, message: { key: fit.letter.key ?? null, value: fit.value } };
  }
}
