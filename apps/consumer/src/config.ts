import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { DECODE_LIMITS, DEFAULT_DECODE_LIMITS, type DecodeLimitName, type DecodeLimits } from '@sluice/schema';
import { redactUrl } from '@sluice/schema';
import { BYTE_SIZE_EXAMPLES, parseByteSize } from '@sluice/engine/byte-size';
import { ConfigError } from './errors';
import type { LogFormat } from './observability/logger';

/** The package's version, for --version (package.json sits one folder above src/ and dist/ alike). */
const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

export type Delivery = 'exactly-once' | 'at-least-once';
export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface ConsumerConfig {
  brokers: string[];
  clientId: string;
  groupId: string;
  jobsTopic: string;
  resultsTopic: string;
  dlqTopic: string;
  sessionTimeoutMs: number;
  schemaRegistryUrl?: string;
  delivery: Delivery;
  transactionalIdPrefix: string;
  workerId: string;
  engine: 'echo' | 'llm';
  model?: string;
  /** Names jobs may give for the served model besides its own (--served-model-name, comma-separated). */
  servedModelNames: string[];
  /** @sluice/engine options given on the command line; unset ones take the engine's defaults. */
  engineOptions: EngineFlags;
  echoDelayMs: number;
  /** Chaos tests: the echo engine breaks on a job with exactly this prompt. */
  echoBreakOn?: string;
  maxInFlight: number;
  maxUncommitted: number;
  maxEngineWaiting: number;
  /** Bounds of a job's decode (@sluice/schema's DECODE_LIMITS); maxPromptBytes is --max-prompt-bytes. */
  decodeLimits: DecodeLimits;
  decodeTimeoutMs: number;
  commitIntervalMs: number;
  maxPartRecords: number;
  drainTimeoutMs: number;
  export: { kind: 's3'; bucket: string; endpoint?: string; region?: string; forcePathStyle: boolean } | { kind: 'file'; dir: string } | { kind: 'off' };
  exportPrefix: string;
  exportFormat: 'jsonl' | 'parquet';
  multipartThresholdBytes: number;
  ssl?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  metricsPort: number;
  metricsHost: string;
  drainEndpoint: DrainEndpoint;
  stallTimeoutMs: number;
  maxCommitFailures: number;
  logLevel: string;
  logFormat: LogFormat;
}

/** Who may POST /drain: loopback callers only, anyone who reaches the metrics port, or nobody. */
export type DrainEndpoint = 'loopback' | 'any' | 'off';

export interface EngineFlags {
  device?: 'cpu' | 'cuda';
  dtype?: 'auto' | 'float32' | 'bfloat16' | 'float16';
  kvCacheDtype?: 'auto' | 'bfloat16';
  kvCacheBytes?: number;
  gpuMemoryUtilization?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  grammarCompileTimeoutMs?: number;
  grammarMaskTimeoutMs?: number;
  grammarThreads?: number;
}

interface Setting {
  /** camelCase key in the parsed commander options. */
  key: string;
  flags: string;
  env: string;
  help: string;
  default?: string;
  choices?: readonly string[];
}

// The decode limits' flags come from @sluice/schema's table; --max-prompt-bytes keeps its older row (its default from the table), as it also bounds all messages together.
function decodeLimitSettings(): Setting[] {
  return DECODE_LIMITS.filter((l) => l.name !== 'maxPromptBytes').map((l) => {
    const kebab = l.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const unit = l.unit === 'bytes' ? 'n' : 'count';
    return { key: l.name, flags: `--${kebab} <${unit}>`, env: `SLUICE_${kebab.replace(/-/g, '_').toUpperCase()}`, help: `${l.doc[0].toLowerCase()}${l.doc.slice(1).replace(/\.$/, '')}; more is dead-lettered`, default: String(l.default) };
  });
}

function decodeLimits(raw: Raw): DecodeLimits {
  const limits = Object.fromEntries(DECODE_LIMITS.map((l) => [l.name, int(raw, l.name, 1)]));
  return limits as Record<DecodeLimitName, number>;
}

// One table drives --help, the env fallbacks and the error messages, so they can never disagree.
const SETTINGS: Setting[] = [
  { key: 'brokers', flags: '--brokers <list>', env: 'SLUICE_KAFKA_BROKERS', help: 'Kafka bootstrap brokers, comma-separated host:port', default: 'localhost:9092' },
  { key: 'clientId', flags: '--client-id <id>', env: 'SLUICE_KAFKA_CLIENT_ID', help: 'Kafka client id', default: 'sluice-consumer' },
  { key: 'group', flags: '--group <id>', env: 'SLUICE_GROUP_ID', help: 'consumer group of the workers', default: 'sluice-workers' },
  { key: 'jobsTopic', flags: '--jobs-topic <topic>', env: 'SLUICE_JOBS_TOPIC', help: 'topic of PromptJob records', default: 'sluice.jobs' },
  { key: 'resultsTopic', flags: '--results-topic <topic>', env: 'SLUICE_RESULTS_TOPIC', help: 'topic Completion records go to, keyed by job_id', default: 'sluice.results' },
  { key: 'dlqTopic', flags: '--dlq-topic <topic>', env: 'SLUICE_DLQ_TOPIC', help: 'topic DeadLetter records go to', default: 'sluice.dlq' },
  { key: 'sessionTimeoutMs', flags: '--session-timeout-ms <ms>', env: 'SLUICE_SESSION_TIMEOUT_MS', help: 'consumer group session timeout: how soon a dead worker\'s partitions move', default: '30000' },
  { key: 'schemaRegistryUrl', flags: '--schema-registry-url <url>', env: 'SLUICE_SCHEMA_REGISTRY_URL', help: 'Confluent Schema Registry: results and dead letters are written Confluent-framed (default: Avro single-object encoding)' },
  { key: 'delivery', flags: '--delivery <mode>', env: 'SLUICE_DELIVERY', help: 'exactly-once (Kafka transactions) or at-least-once (no transactions)', default: 'exactly-once', choices: ['exactly-once', 'at-least-once'] },
  { key: 'transactionalIdPrefix', flags: '--transactional-id-prefix <prefix>', env: 'SLUICE_TRANSACTIONAL_ID_PREFIX', help: 'prefix of the per-partition transactional ids (default: sluice-<group>)' },
  { key: 'workerId', flags: '--worker-id <id>', env: 'SLUICE_WORKER_ID', help: 'name of this worker in completions and logs (default: <hostname>-<pid>)' },
  { key: 'engine', flags: '--engine <kind>', env: 'SLUICE_ENGINE', help: 'echo (instant echo, for tests and benches) or llm (@sluice/engine); default: llm when --model is given, else echo', choices: ['echo', 'llm'] },
  { key: 'model', flags: '--model <dir>', env: 'SLUICE_MODEL', help: 'Hugging Face model directory (required with --engine llm)' },
  { key: 'servedModelName', flags: '--served-model-name <names>', env: 'SLUICE_SERVED_MODEL_NAME', help: 'comma-separated names jobs may use for the model besides its own (e.g. gpt-4o-mini, so an OpenAI Batch file naming it runs on purpose); other names get MODEL_MISMATCH' },
  { key: 'device', flags: '--device <device>', env: 'SLUICE_DEVICE', help: 'where the llm engine runs: cpu or cuda (default: cpu)', choices: ['cpu', 'cuda'] },
  { key: 'dtype', flags: '--dtype <dtype>', env: 'SLUICE_DTYPE', help: 'the llm engine\'s weight dtype, as vLLM names it: auto (the checkpoint\'s), float32, bfloat16 or float16; cpu runs float32 and bfloat16 (f32 activations), cuda the checkpoint\'s own (default: auto)', choices: ['auto', 'float32', 'bfloat16', 'float16'] },
  { key: 'kvCacheDtype', flags: '--kv-cache-dtype <dtype>', env: 'SLUICE_KV_CACHE_DTYPE', help: 'the llm engine\'s KV cache dtype, as vLLM\'s kv_cache_dtype: auto (the compute dtype: f32 on cpu) or bfloat16 (half the bytes, twice the blocks per --kv-cache-bytes; on cuda only with a bf16 checkpoint) (default: auto)', choices: ['auto', 'bfloat16'] },
  { key: 'kvCacheBytes', flags: '--kv-cache-bytes <size>', env: 'SLUICE_KV_CACHE_BYTES', help: 'memory for the llm engine\'s KV cache: bytes, or with a unit (512MiB, 20GiB, 1.5GB) (default: 256MiB on cpu; on cuda, sized from --gpu-memory-utilization)' },
  { key: 'gpuMemoryUtilization', flags: '--gpu-memory-utilization <fraction>', env: 'SLUICE_GPU_MEMORY_UTILIZATION', help: 'with --device cuda and no --kv-cache-bytes: the share of GPU memory the llm engine may hold (weights, a profiled peak batch, then the KV cache), in (0, 1] (default: 0.9)' },
  { key: 'maxNumSeqs', flags: '--max-num-seqs <n>', env: 'SLUICE_MAX_NUM_SEQS', help: 'most sequences the llm engine runs in one step (default: 64)' },
  { key: 'maxNumBatchedTokens', flags: '--max-num-batched-tokens <n>', env: 'SLUICE_MAX_NUM_BATCHED_TOKENS', help: 'most tokens the llm engine processes in one step (default: 2048)' },
  { key: 'grammarCompileTimeoutMs', flags: '--grammar-compile-timeout-ms <ms>', env: 'SLUICE_GRAMMAR_COMPILE_TIMEOUT_MS', help: 'longest one structured-output constraint may compile (on the llm engine\'s grammar thread, never blocking other jobs); a job whose constraint takes longer is dead-lettered (INVALID_STRUCTURED_OUTPUT) (default: 10000)' },
  { key: 'grammarMaskTimeoutMs', flags: '--grammar-mask-timeout-ms <ms>', env: 'SLUICE_GRAMMAR_MASK_TIMEOUT_MS', help: 'longest the llm engine\'s grammar thread may take over one job\'s next-token mask; a job whose grammar takes longer (an ambiguous one costs more with every token) is dead-lettered (INVALID_STRUCTURED_OUTPUT) instead of slowing every step (default: 500)' },
  { key: 'grammarThreads', flags: '--grammar-threads <n>', env: 'SLUICE_GRAMMAR_THREADS', help: 'structured-output threads of the llm engine: each compiles every constraint and fills the next-token masks of its share of the jobs, side by side (default: 1 on cpu; on cuda half the cores, 1 to 4)' },
  { key: 'echoDelayMs', flags: '--echo-delay-ms <ms>', env: 'SLUICE_ECHO_DELAY_MS', help: 'simulated run time per job of the echo engine', default: '0' },
  { key: 'echoBreakOn', flags: '--echo-break-on <prompt>', env: 'SLUICE_ECHO_BREAK_ON', help: 'chaos tests: the echo engine breaks (every job in it fails as ENGINE_FAILED, and it takes no more) on a job with exactly this prompt' },
  { key: 'maxInFlight', flags: '--max-in-flight <n>', env: 'SLUICE_MAX_IN_FLIGHT', help: 'jobs in the engine at once before partitions are paused', default: '256' },
  { key: 'maxUncommitted', flags: '--max-uncommitted <n>', env: 'SLUICE_MAX_UNCOMMITTED', help: 'finished jobs waiting for their commit before partitions are paused', default: '4096' },
  { key: 'maxEngineWaiting', flags: '--max-engine-waiting <n>', env: 'SLUICE_MAX_ENGINE_WAITING', help: 'requests queued in the engine scheduler before partitions are paused', default: '128' },
  { key: 'maxPromptBytes', flags: '--max-prompt-bytes <n>', env: 'SLUICE_MAX_PROMPT_BYTES', help: 'longer prompts are dead-lettered (UTF-8 bytes)', default: String(DEFAULT_DECODE_LIMITS.maxPromptBytes) },
  ...decodeLimitSettings(),
  { key: 'decodeTimeoutMs', flags: '--decode-timeout-ms <ms>', env: 'SLUICE_DECODE_TIMEOUT_MS', help: 'budget of one message\'s decode; one that runs longer is stopped and dead-lettered (DECODE_TIMEOUT)', default: '2000' },
  { key: 'commitIntervalMs', flags: '--commit-interval-ms <ms>', env: 'SLUICE_COMMIT_INTERVAL_MS', help: 'how often finished jobs are exported and committed', default: '500' },
  { key: 'maxPartRecords', flags: '--max-part-records <n>', env: 'SLUICE_MAX_PART_RECORDS', help: 'most completions in one commit (and one export part)', default: '5000' },
  { key: 'drainTimeout', flags: '--drain-timeout <duration>', env: 'SLUICE_DRAIN_TIMEOUT', help: 'on SIGTERM, how long in-flight jobs may finish (e.g. 30s, 500ms, 2m)', default: '30s' },
  { key: 's3Bucket', flags: '--s3-bucket <bucket>', env: 'SLUICE_S3_BUCKET', help: 'export completions to this S3 bucket (credentials: AWS default provider chain)' },
  { key: 's3Endpoint', flags: '--s3-endpoint <url>', env: 'SLUICE_S3_ENDPOINT', help: 'S3-compatible endpoint (MinIO, S3Proxy); AWS when unset' },
  { key: 's3Region', flags: '--s3-region <region>', env: 'SLUICE_S3_REGION', help: 'S3 region (default: the AWS provider chain, else us-east-1)' },
  { key: 's3ForcePathStyle', flags: '--s3-force-path-style <bool>', env: 'SLUICE_S3_FORCE_PATH_STYLE', help: 'path-style S3 addressing (MinIO, S3Proxy)', default: 'false' },
  { key: 'exportDir', flags: '--export-dir <dir>', env: 'SLUICE_EXPORT_DIR', help: 'export to this local directory (file://) when no S3 bucket is set', default: 'sluice-export' },
  { key: 'exportPrefix', flags: '--export-prefix <prefix>', env: 'SLUICE_EXPORT_PREFIX', help: 'key prefix of the export', default: 'completions' },
  { key: 'exportFormat', flags: '--export-format <format>', env: 'SLUICE_EXPORT_FORMAT', help: 'part format: jsonl or parquet', default: 'jsonl', choices: ['jsonl', 'parquet'] },
  { key: 'export', flags: '--export <bool>', env: 'SLUICE_EXPORT', help: 'write the S3/file export at all', default: 'true' },
  { key: 'multipartThresholdMb', flags: '--multipart-threshold-mb <n>', env: 'SLUICE_MULTIPART_THRESHOLD_MB', help: 'parts this large go up as multipart uploads in pieces of this size (min 5)', default: '8' },
  { key: 'kafkaSsl', flags: '--kafka-ssl <bool>', env: 'SLUICE_KAFKA_SSL', help: 'TLS to the brokers', default: 'false' },
  { key: 'kafkaSslCa', flags: '--kafka-ssl-ca <file>', env: 'SLUICE_KAFKA_SSL_CA', help: 'PEM CA bundle for the brokers (implies --kafka-ssl)' },
  { key: 'kafkaSslCert', flags: '--kafka-ssl-cert <file>', env: 'SLUICE_KAFKA_SSL_CERT', help: 'PEM client certificate for mutual TLS' },
  { key: 'kafkaSslKey', flags: '--kafka-ssl-key <file>', env: 'SLUICE_KAFKA_SSL_KEY', help: 'PEM client key for mutual TLS' },
  { key: 'kafkaSslRejectUnauthorized', flags: '--kafka-ssl-reject-unauthorized <bool>', env: 'SLUICE_KAFKA_SSL_REJECT_UNAUTHORIZED', help: 'verify the brokers\' certificates', default: 'true' },
  { key: 'saslMechanism', flags: '--sasl-mechanism <mechanism>', env: 'SLUICE_KAFKA_SASL_MECHANISM', help: 'plain, scram-sha-256 or scram-sha-512', choices: ['plain', 'scram-sha-256', 'scram-sha-512'] },
  { key: 'saslUsername', flags: '--sasl-username <user>', env: 'SLUICE_KAFKA_SASL_USERNAME', help: 'SASL user name' },
  { key: 'saslPasswordFile', flags: '--sasl-password-file <file>', env: 'SLUICE_KAFKA_SASL_PASSWORD_FILE', help: 'file holding the SASL password (or set SLUICE_KAFKA_SASL_PASSWORD; never a flag, so it stays out of ps)' },
  { key: 'metricsPort', flags: '--metrics-port <port>', env: 'SLUICE_METRICS_PORT', help: 'port of /metrics, /healthz and /readyz (0: any free port)', default: '9464' },
  { key: 'metricsHost', flags: '--metrics-host <host>', env: 'SLUICE_METRICS_HOST', help: 'address the metrics server listens on', default: '0.0.0.0' },
  { key: 'drainEndpoint', flags: '--drain-endpoint <who>', env: 'SLUICE_DRAIN_ENDPOINT', help: 'who may POST /drain on the metrics port: loopback (127.0.0.0/8, ::1), any address, or off', default: 'loopback', choices: ['loopback', 'any', 'off'] },
  { key: 'stallTimeout', flags: '--stall-timeout <duration>', env: 'SLUICE_STALL_TIMEOUT', help: 'a partition with work pending and no job taken, finished or committed for this long is stalled: /readyz fails (e.g. 10m, 90s)', default: '10m' },
  { key: 'maxCommitFailures', flags: '--max-commit-failures <n>', env: 'SLUICE_MAX_COMMIT_FAILURES', help: 'failed commits of one partition in a row after which /readyz fails, until a commit succeeds', default: '10' },
  { key: 'logLevel', flags: '--log-level <level>', env: 'SLUICE_LOG_LEVEL', help: 'pino level (-v is debug, -q is warn)', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  { key: 'logFormat', flags: '--log-format <format>', env: 'SLUICE_LOG_FORMAT', help: 'pretty (colourised lines) or json (one object per line); default: pretty on a terminal, else json', choices: ['pretty', 'json'] },
];

/** Environment variables read outside the flag table: secrets never take a flag, and S3 credentials are the AWS SDK's. */
export const EXTRA_ENV: ReadonlyArray<{ env: string; help: string }> = [
  { env: 'SLUICE_KAFKA_SASL_PASSWORD', help: 'SASL password when --sasl-password-file is not given (no flag, so it never shows in ps)' },
  { env: 'AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN', help: 'S3 credentials and region through the AWS default provider chain (env, shared config/SSO, web identity as in EKS IRSA, container and instance roles)' },
];

/** Every flag with its variable, help and default, as --help shows them (the README and the k8s manifests are checked against it). */
export function settingDocs(): Array<{ flag: string; env: string; help: string; default?: string }> {
  return SETTINGS.map((s) => ({ flag: s.flags.split(' ')[0], env: s.env, help: s.help, default: s.default }));
}

export function buildCommand(): Command {
  const cmd = new Command('sluice-consumer')
    .description('Sluice worker: consumes PromptJobs from Kafka, runs them through the engine, writes Completions to Kafka and S3.')
    .helpOption('-h, --help', 'show this help')
    .allowExcessArguments(false)
    .addHelpText(
      'after',
      [
        '',
        'Every flag can also be set by the environment variable shown; a flag wins over its variable.',
        'Also read from the environment:',
        ...EXTRA_ENV.map((e) => `  ${e.env}\n      ${e.help}`),
        'Exit codes: 0 clean stop (drained), 1 fatal error, 2 bad configuration or a failed start check (brokers, topics, bucket), 128+N second signal N.',
      ].join('\n'),
    );
  cmd.version(VERSION, '-V, --version', 'print the version');
  cmd.option('-v, --verbose', 'log at debug level (overrides --log-level)').option('-q, --quiet', 'log warnings and errors only (overrides --log-level)');
  for (const s of SETTINGS) {
    const help = `${s.help} (env: ${s.env}${s.default !== undefined ? `, default: ${s.default}` : ''})`;
    const opt = new Option(s.flags, help);
    if (s.choices) opt.choices(s.choices);
    cmd.addOption(opt);
  }
  return cmd;
}

/** Raw strings by key: flag, else variable, else default. */
type Raw = Record<string, string | undefined>;

function settingOf(key: string): Setting {
  const s = SETTINGS.find((x) => x.key === key);
  if (!s) throw new Error(`no setting ${key}`);
  return s;
}

const label = (key: string) => {
  const s = settingOf(key);
  return `${s.flags.split(' ')[0]} (${s.env})`;
};

function int(raw: Raw, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = raw[key] ?? '';
  if (!/^-?\d+$/.test(v.trim())) throw new ConfigError(label(key), `must be an integer, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(label(key), `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(raw: Raw, key: string): boolean {
  const v = (raw[key] ?? '').trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigError(label(key), `must be true or false, got "${raw[key]}"`);
}

function choice<T extends string>(raw: Raw, key: string): T {
  const v = raw[key] ?? '';
  const choices = settingOf(key).choices ?? [];
  if (!choices.includes(v)) throw new ConfigError(label(key), `must be one of ${choices.join(', ')}, got "${v}"`);
  return v as T;
}

function readable(raw: Raw, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === '') return undefined;
  if (!existsSync(v) || !statSync(v).isFile()) throw new ConfigError(label(key), `file ${v} does not exist`);
  return readFileSync(v, 'utf8');
}

/** Parses "30s", "500ms", "2m" or a plain number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (!m) return undefined;
  const unit = m[2] ?? 'ms';
  return Math.round(Number(m[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000));
}

function echoOnly(raw: Raw, engine: 'echo' | 'llm', key: 'echoBreakOn'): string {
  if (engine !== 'echo') throw new ConfigError(label(key), 'applies only with --engine echo');
  return raw[key] as string;
}

function engineFlags(raw: Raw, engine: 'echo' | 'llm'): EngineFlags {
  const keys = ['device', 'dtype', 'kvCacheDtype', 'kvCacheBytes', 'gpuMemoryUtilization', 'maxNumSeqs', 'maxNumBatchedTokens', 'grammarCompileTimeoutMs', 'grammarMaskTimeoutMs', 'grammarThreads'] as const;
  const given = keys.filter((k) => raw[k] !== undefined && raw[k] !== '');
  if (engine !== 'llm' && given.length > 0) throw new ConfigError(label(given[0]), 'applies only with --engine llm');
  const flags: EngineFlags = {};
  if (raw.device) flags.device = choice<'cpu' | 'cuda'>(raw, 'device');
  if (raw.dtype) flags.dtype = choice<NonNullable<EngineFlags['dtype']>>(raw, 'dtype');
  if (raw.kvCacheDtype) flags.kvCacheDtype = choice<NonNullable<EngineFlags['kvCacheDtype']>>(raw, 'kvCacheDtype');
  if (raw.kvCacheBytes) {
    const bytes = parseByteSize(raw.kvCacheBytes);
    if (bytes === undefined || bytes < 1) throw new ConfigError(label('kvCacheBytes'), `must be a size like ${BYTE_SIZE_EXAMPLES}, got "${raw.kvCacheBytes}"`);
    flags.kvCacheBytes = bytes;
  }
  if (raw.gpuMemoryUtilization) {
    const f = Number(raw.gpuMemoryUtilization);
    if (!(f > 0 && f <= 1)) throw new ConfigError(label('gpuMemoryUtilization'), `must be a fraction in (0, 1], got "${raw.gpuMemoryUtilization}"`);
    flags.gpuMemoryUtilization = f;
  }
  if (raw.maxNumSeqs) flags.maxNumSeqs = int(raw, 'maxNumSeqs', 1, 65_536);
  if (raw.maxNumBatchedTokens) flags.maxNumBatchedTokens = int(raw, 'maxNumBatchedTokens', 1, 10_000_000);
  if (raw.grammarCompileTimeoutMs) flags.grammarCompileTimeoutMs = int(raw, 'grammarCompileTimeoutMs', 1, 3_600_000);
  if (raw.grammarMaskTimeoutMs) flags.grammarMaskTimeoutMs = int(raw, 'grammarMaskTimeoutMs', 1, 600_000);
  if (raw.grammarThreads) flags.grammarThreads = int(raw, 'grammarThreads', 1, 64);
  return flags;
}

/** "--flag (SLUICE_VAR)" for a setting key, as config errors name it. */
export function settingLabel(key: string): string | undefined {
  return SETTINGS.some((s) => s.key === key) ? label(key) : undefined;
}

function url(raw: Raw, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === '') return undefined;
  if (!/^https?:\/\/\S+$/.test(v)) throw new ConfigError(label(key), `"${redactUrl(v)}" is not an http(s) URL`);
  return v;
}

const TOPIC_RE = /^[A-Za-z0-9._-]{1,249}$/;

function topic(raw: Raw, key: string): string {
  const v = raw[key] ?? '';
  if (!TOPIC_RE.test(v)) throw new ConfigError(label(key), `"${v}" is not a valid Kafka topic name (letters, digits, . _ -; at most 249)`);
  return v;
}

/** Parses argv (without node and script) and the environment into a validated config; throws ConfigError naming the setting. */
export function resolveConfig(argv: string[], env: NodeJS.ProcessEnv = process.env, cmd: Command = buildCommand()): ConsumerConfig {
  cmd.exitOverride().configureOutput({ writeErr: () => undefined });
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') throw err;
    throw new ConfigError('command line', e.message.replace(/^error: /, ''));
  }
  const flags = cmd.opts<Record<string, string | undefined>>();
  if (flags.verbose && flags.quiet) throw new ConfigError('-v/--verbose and -q/--quiet', 'exclude each other');
  const raw: Raw = {};
  for (const s of SETTINGS) raw[s.key] = flags[s.key] ?? (env[s.env] !== undefined && env[s.env] !== '' ? env[s.env] : s.default);

  const brokers = (raw.brokers ?? '').split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) throw new ConfigError(label('brokers'), 'needs at least one host:port');
  for (const b of brokers) if (!/^[^\s:]+:\d{1,5}$/.test(b)) throw new ConfigError(label('brokers'), `"${b}" is not host:port`);

  const model = raw.model || undefined;
  // A model means the llm engine: echo with a model would silently ignore it.
  const engine = raw.engine ? choice<'echo' | 'llm'>(raw, 'engine') : model ? 'llm' : 'echo';
  if (engine === 'llm' && !model) throw new ConfigError(label('model'), 'is required with --engine llm');
  if (engine === 'echo' && model) throw new ConfigError(label('model'), 'applies only with --engine llm (the echo engine runs no model)');
  if (model && !existsSync(model)) throw new ConfigError(label('model'), `directory ${model} does not exist`);

  const drainTimeoutMs = parseDuration(raw.drainTimeout ?? '');
  if (drainTimeoutMs === undefined) throw new ConfigError(label('drainTimeout'), `must be a duration like 30s, 500ms or 2m, got "${raw.drainTimeout}"`);

  const stallTimeoutMs = parseDuration(raw.stallTimeout ?? '');
  if (stallTimeoutMs === undefined || stallTimeoutMs < 1000) throw new ConfigError(label('stallTimeout'), `must be a duration of at least 1s like 10m or 90s, got "${raw.stallTimeout}"`);

  const resultsTopic = topic(raw, 'resultsTopic');
  const dlqTopic = topic(raw, 'dlqTopic');
  const jobsTopic = topic(raw, 'jobsTopic');
  if (resultsTopic === jobsTopic || dlqTopic === jobsTopic) throw new ConfigError(label('jobsTopic'), 'must differ from the results and DLQ topics');

  let exportTarget: ConsumerConfig['export'];
  if (!bool(raw, 'export')) exportTarget = { kind: 'off' };
  else if (raw.s3Bucket) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(raw.s3Bucket)) throw new ConfigError(label('s3Bucket'), `"${raw.s3Bucket}" is not a valid S3 bucket name`);
    exportTarget = { kind: 's3', bucket: raw.s3Bucket, endpoint: url(raw, 's3Endpoint'), region: raw.s3Region, forcePathStyle: bool(raw, 's3ForcePathStyle') };
  } else exportTarget = { kind: 'file', dir: raw.exportDir ?? 'sluice-export' };

  const sslWanted = bool(raw, 'kafkaSsl') || !!raw.kafkaSslCa || !!raw.kafkaSslCert || !!raw.kafkaSslKey;
  const ssl = sslWanted
    ? { ca: readable(raw, 'kafkaSslCa'), cert: readable(raw, 'kafkaSslCert'), key: readable(raw, 'kafkaSslKey'), rejectUnauthorized: bool(raw, 'kafkaSslRejectUnauthorized') }
    : undefined;
  if (ssl && !!ssl.cert !== !!ssl.key) throw new ConfigError(label(ssl.cert ? 'kafkaSslKey' : 'kafkaSslCert'), 'mutual TLS needs both a client certificate and its key');

  let sasl: ConsumerConfig['sasl'];
  if (raw.saslMechanism) {
    const mechanism = choice<SaslMechanism>(raw, 'saslMechanism');
    if (!raw.saslUsername) throw new ConfigError(label('saslUsername'), `is required with --sasl-mechanism ${mechanism}`);
    const password = readable(raw, 'saslPasswordFile')?.trim() ?? env.SLUICE_KAFKA_SASL_PASSWORD;
    if (!password) throw new ConfigError(`${label('saslPasswordFile')} or SLUICE_KAFKA_SASL_PASSWORD`, `a password is required with --sasl-mechanism ${mechanism}`);
    sasl = { mechanism, username: raw.saslUsername, password };
  }

  const groupId = raw.group ?? '';
  if (groupId.trim() === '') throw new ConfigError(label('group'), 'must not be empty');
  return {
    brokers,
    clientId: raw.clientId ?? 'sluice-consumer',
    groupId,
    jobsTopic,
    resultsTopic,
    dlqTopic,
    schemaRegistryUrl: url(raw, 'schemaRegistryUrl'),
    sessionTimeoutMs: int(raw, 'sessionTimeoutMs', 6000, 3_600_000),
    delivery: choice<Delivery>(raw, 'delivery'),
    transactionalIdPrefix: raw.transactionalIdPrefix || `sluice-${groupId}`,
    workerId: raw.workerId || `${hostname()}-${process.pid}`,
    engine,
    model,
    servedModelNames: (raw.servedModelName ?? '').split(',').map((n) => n.trim()).filter(Boolean),
    engineOptions: engineFlags(raw, engine),
    echoDelayMs: int(raw, 'echoDelayMs', 0, 3_600_000),
    ...(raw.echoBreakOn ? { echoBreakOn: echoOnly(raw, engine, 'echoBreakOn') } : {}),
    maxInFlight: int(raw, 'maxInFlight', 1, 1_000_000),
    maxUncommitted: int(raw, 'maxUncommitted', 1, 10_000_000),
    maxEngineWaiting: int(raw, 'maxEngineWaiting', 1, 1_000_000),
    decodeLimits: decodeLimits(raw),
    decodeTimeoutMs: int(raw, 'decodeTimeoutMs', 1, 3_600_000),
    commitIntervalMs: int(raw, 'commitIntervalMs', 10, 600_000),
    maxPartRecords: int(raw, 'maxPartRecords', 1, 10_000_000),
    drainTimeoutMs,
    export: exportTarget,
    exportPrefix: raw.exportPrefix ?? '',
    exportFormat: choice<'jsonl' | 'parquet'>(raw, 'exportFormat'),
    multipartThresholdBytes: int(raw, 'multipartThresholdMb', 5, 5120) * 1024 * 1024,
    ssl,
    sasl,
    metricsPort: int(raw, 'metricsPort', 0, 65535),
    metricsHost: raw.metricsHost ?? '0.0.0.0',
    drainEndpoint: choice<DrainEndpoint>(raw, 'drainEndpoint'),
    stallTimeoutMs,
    maxCommitFailures: int(raw, 'maxCommitFailures', 1, 1_000_000),
    logLevel: flags.verbose ? 'debug' : flags.quiet ? 'warn' : choice<string>(raw, 'logLevel'),
    logFormat: raw.logFormat ? choice<LogFormat>(raw, 'logFormat') : process.stdout.isTTY ? 'pretty' : 'json',
  };
}
