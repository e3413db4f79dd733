/** Where the first copy of a job is: its partition and offset. */
export interface FirstCopy {
  partition: number;
  offset: bigint;
}

/** One string per (batch_id, job_id), never the same for two different pairs: also the job's request id in the engine. */
export const jobKey = (batchId: string, jobId: string): string => JSON.stringify([batchId, jobId]);

/**
 * The (batch_id, job_id) of every job running or finished-but-uncommitted on this worker, so that a second copy of
 * one is recognised as a duplicate and not run. An entry lives until its offset is committed or its partition is
 * dropped; after that a later copy runs normally (collect and status keep one completion per job).
 */
export class InFlightIds {
  private readonly first = new Map<string, FirstCopy>();
  /** Keys by partition, in offset order (jobs are taken in offset order), for release and drop. */
  private readonly byPartition = new Map<number, Array<{ offset: bigint; key: string }>>();

  /** The first copy's place if this job is already here; else records this copy as the first and returns undefined. */
  claim(batchId: string, jobId: string, at: FirstCopy): FirstCopy | undefined {
    const key = jobKey(batchId, jobId);
    const existing = this.first.get(key);
    if (existing) return existing;
    this.first.set(key, at);
    let list = this.byPartition.get(at.partition);
    if (!list) this.byPartition.set(at.partition, (list = []));
    list.push({ offset: at.offset, key });
    return undefined;
  }

  /** The partition's offsets up to and including lastOffset are committed. */
  release(partition: number, lastOffset: bigint): void {
    const list = this.byPartition.get(partition);
    if (!list) return;
    let n = 0;
    while (n < list.length && list[n].offset <= lastOffset) this.first.delete(list[n++].key);
    list.splice(0, n);
  }

  /** The partition is no longer ours: its jobs are not here any more. */
  dropPartition(partition: number): void {
    for (const { key } of this.byPartition.get(partition) ?? []) this.first.delete(key);
    this.byPartition.delete(partition);
  }

  get size(): number {
    return this.first.size;
  }
}
