import type { Admin } from 'kafkajs';
import type { WorkerMetrics } from './metrics';

/**
 * sluice_partition_lag as the broker sees it: each assigned partition's high watermark minus the group's committed
 * offset (the log start when nothing is committed yet), so jobs waiting behind a paused fetch count as lag too.
 * Read from the broker on every update, not from the last fetched batch.
 */
export class PartitionLag {
  private shown = new Set<number>();

  constructor(private readonly admin: Pick<Admin, 'fetchTopicOffsets' | 'fetchOffsets'>, private readonly metrics: WorkerMetrics, private readonly topic: string, private readonly groupId: string) {}

  async update(assigned: readonly number[]): Promise<void> {
    const [ends, [committed]] = await Promise.all([this.admin.fetchTopicOffsets(this.topic), this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] })]);
    const at = new Map(committed.partitions.map((p) => [p.partition, BigInt(p.offset)]));
    const now = new Set<number>();
    for (const end of ends) {
      if (!assigned.includes(end.partition)) continue;
      const from = at.get(end.partition) ?? -1n;
      const start = from < 0n ? BigInt(end.low) : from;
      const lag = BigInt(end.high) - start;
      this.metrics.lag.set({ topic: this.topic, partition: String(end.partition) }, Number(lag > 0n ? lag : 0n));
      now.add(end.partition);
    }
    for (const p of this.shown) if (!now.has(p)) this.metrics.lag.remove({ topic: this.topic, partition: String(p) });
    this.shown = now;
  }
}
