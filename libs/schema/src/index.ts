export * from './types';
export { SAMPLING_PARAMETERS, SAMPLING_API_NAMES, type SamplingKind, type SamplingParameter, type SamplingWireName, type SamplingApiName } from './sampling-parameters';
export { SchemaError, type SchemaErrorCode } from './errors';
export {
  DECODE_LIMITS, DEFAULT_DECODE_LIMITS, resolveDecodeLimits, type DecodeLimits, type DecodeLimitName, type DecodeLimitSpec, type DecodeLimitKind,
} from './decode-limits';
export { SCHEMA_DIR, versionByFingerprint, versionByNumber, type AvroSchemaJson, type RecordName, type SchemaFamily, type SchemaVersion } from './schema-files';
export { PromptJobSchemas, CompletionSchemas, DeadLetterSchemas, BatchManifestSchemas } from './families';
export { validatePromptJob, validateSamplingParams } from './prompt-job-rules';
export { crc64Avro } from './crc64-avro';
export { encodeSingleObject, decodeSingleObject, isSingleObject } from './single-object';
export { frameConfluent, parseConfluentFrame, isConfluentFramed } from './confluent-framing';
export { SchemaRegistryClient, type RegistryClientOptions } from './registry-client';
export { redactUrl, redactUrls } from './redact-url';
export { kafkaErrorChain, kafkaTlsFailure, type KafkaTlsFailure } from './kafka-tls-failure';
export { RecordCodec, recordFromPlain, recordFromJsonText, type RecordCodecOptions } from './codec';
export { recordToJson } from './json-record';
export { DEFAULT_TOPICS, HEADERS, METADATA_SEQ, BATCH_ID_PATTERN } from './topics';
export * from './export-layout';
export { OUTCOMES, isDeadLetterCode, modelMismatch, type OutcomeCode, type OutcomeInfo, type OutcomeRecord, type DeadLetterCode, type ErrorLineCode } from './outcomes';
export { deadLetterOriginal } from './dead-letter-original';
