export { buildProgram, type Io } from './program';
export { CliError, EXIT, type ExitCode } from './errors';
export { produce, type ProduceOptions, type ProduceSummary } from './produce/produce';
export { collect, type CollectOptions, type CollectSummary } from './collect/collect';
export { scanBatch, type BatchStatus } from './status/batch-scan';
export { resolveKafkaSettings, type KafkaSettings } from './kafka/settings';
