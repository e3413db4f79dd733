import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCommand, EXTRA_ENV, parseDuration, resolveConfig, settingDocs } from './config';
import { ConfigError } from './errors';
import { DECODE_LIMITS, DEFAULT_DECODE_LIMITS } from '@sluice/schema';

describe('resolveConfig', () => {
  it('has working defaults: echo engine, exactly-once, file export', () => {
    const c = resolveConfig([], {});
    expect(c).toMatchObject({
      brokers: ['localhost:9092'],
      groupId: 'sluice-workers',
      jobsTopic: 'sluice.jobs',
      resultsTopic: 'sluice.results',
      dlqTopic: 'sluice.dlq',
      delivery: 'exactly-once',
      transactionalIdPrefix: 'sluice-sluice-workers',
      engine: 'echo',
      export: { kind: 'file', dir: 'sluice-export' },
      exportFormat: 'jsonl',
      drainTimeoutMs: 30_000,
    });
    expect(c.ssl).toBeUndefined();
    expect(c.sasl).toBeUndefined();
  });

  it('logs pretty on a terminal and JSON otherwise unless --log-format says; -v is debug, -q is warn; --version answers', () => {
    expect(resolveConfig(['--log-format', 'pretty'], {})).toMatchObject({ logFormat: 'pretty', logLevel: 'info' });
    expect(resolveConfig([], { SLUICE_LOG_FORMAT: 'json' })).toMatchObject({ logFormat: 'json' });
    expect(resolveConfig([], {}).logFormat).toBe(process.stdout.isTTY ? 'pretty' : 'json');
    expect(resolveConfig(['-v', '--log-level', 'error'], {}).logLevel).toBe('debug');
    expect(resolveConfig(['--quiet'], {}).logLevel).toBe('warn');
    expect(() => resolveConfig(['-v', '-q'], {})).toThrow('-v/--verbose and -q/--quiet: exclude each other');
    expect(() => resolveConfig(['--log-format', 'xml'], {})).toThrow(/--log-format/);
    let printed = '';
    const cmd = buildCommand().configureOutput({ writeOut: (t) => (printed += t) });
    expect(() => resolveConfig(['--version'], {}, cmd)).toThrow(expect.objectContaining({ code: 'commander.version' }));
    expect(printed).toBe('0.1.0\n');
  });

  it('takes --model to mean the llm engine, and refuses a model with --engine echo', () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-'));
    expect(resolveConfig(['--model', dir], {})).toMatchObject({ engine: 'llm', model: dir });
    expect(resolveConfig([], { SLUICE_MODEL: dir })).toMatchObject({ engine: 'llm', model: dir });
    expect(() => resolveConfig(['--model', dir, '--engine', 'echo'], {})).toThrow('--model (SLUICE_MODEL): applies only with --engine llm (the echo engine runs no model)');
  });

  it('reads SLUICE_* variables, and a flag wins over its variable', () => {
    const env = { SLUICE_KAFKA_BROKERS: 'k1:9092,k2:9092', SLUICE_S3_BUCKET: 'results', SLUICE_S3_ENDPOINT: 'http://minio:9000', SLUICE_S3_FORCE_PATH_STYLE: 'true', SLUICE_MAX_IN_FLIGHT: '8' };
    const c = resolveConfig(['--max-in-flight', '16', '--delivery', 'at-least-once'], env);
    expect(c.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(c.export).toEqual({ kind: 's3', bucket: 'results', endpoint: 'http://minio:9000', region: undefined, forcePathStyle: true });
    expect(c.maxInFlight).toBe(16);
    expect(c.delivery).toBe('at-least-once');
  });

  it.each([
    [['--max-in-flight', '0'], {}, /--max-in-flight \(SLUICE_MAX_IN_FLIGHT\): must be between 1/],
    [[], { SLUICE_MAX_IN_FLIGHT: 'lots' }, /--max-in-flight \(SLUICE_MAX_IN_FLIGHT\): must be an integer, got "lots"/],
    [['--brokers', 'nohost'], {}, /--brokers \(SLUICE_KAFKA_BROKERS\): "nohost" is not host:port/],
    [['--engine', 'llm'], {}, /--model \(SLUICE_MODEL\): is required with --engine llm/],
    [['--model', '/no/such/dir'], {}, /--model \(SLUICE_MODEL\): directory \/no\/such\/dir does not exist/],
    [[], { SLUICE_DELIVERY: 'twice' }, /--delivery \(SLUICE_DELIVERY\): must be one of exactly-once, at-least-once/],
    [[], { SLUICE_DRAIN_TIMEOUT: 'soon' }, /--drain-timeout \(SLUICE_DRAIN_TIMEOUT\): must be a duration/],
    [['--jobs-topic', 'bad topic'], {}, /--jobs-topic \(SLUICE_JOBS_TOPIC\): "bad topic" is not a valid Kafka topic name/],
    [[], { SLUICE_S3_BUCKET: 'Bad_Bucket' }, /--s3-bucket \(SLUICE_S3_BUCKET\)/],
    [[], { SLUICE_S3_FORCE_PATH_STYLE: 'maybe', SLUICE_S3_BUCKET: 'ok-bucket' }, /--s3-force-path-style \(SLUICE_S3_FORCE_PATH_STYLE\): must be true or false/],
    [['--sasl-mechanism', 'scram-sha-512'], {}, /--sasl-username \(SLUICE_KAFKA_SASL_USERNAME\): is required/],
    [['--sasl-mechanism', 'plain', '--sasl-username', 'u'], {}, /SLUICE_KAFKA_SASL_PASSWORD: a password is required/],
    [['--kafka-ssl-ca', '/no/ca.pem'], {}, /--kafka-ssl-ca \(SLUICE_KAFKA_SSL_CA\): file \/no\/ca.pem does not exist/],
    [['--no-such-flag'], {}, /command line: unknown option '--no-such-flag'/],
    [['--max-num-seqs', '8'], {}, /--max-num-seqs \(SLUICE_MAX_NUM_SEQS\): applies only with --engine llm/],
    [['--engine', 'llm', '--model', '.'], { SLUICE_DTYPE: 'int8' }, /--dtype \(SLUICE_DTYPE\): must be one of auto, float32, bfloat16, float16, got "int8"/],
    [['--dtype', 'bfloat16'], {}, /--dtype \(SLUICE_DTYPE\): applies only with --engine llm/],
    [['--engine', 'llm', '--model', '.'], { SLUICE_KV_CACHE_DTYPE: 'fp8' }, /--kv-cache-dtype \(SLUICE_KV_CACHE_DTYPE\): must be one of auto, bfloat16, got "fp8"/],
    [['--engine', 'llm', '--model', '.', '--kv-cache-dtype', 'float16'], {}, /command line: option '--kv-cache-dtype <dtype>' argument 'float16' is invalid/],
    [['--kv-cache-dtype', 'bfloat16'], {}, /--kv-cache-dtype \(SLUICE_KV_CACHE_DTYPE\): applies only with --engine llm/],
    [['--engine', 'llm', '--model', '.', '--kv-cache-bytes', 'lots'], {}, /--kv-cache-bytes \(SLUICE_KV_CACHE_BYTES\): must be a size like/],
    [['--engine', 'llm', '--model', '.', '--gpu-memory-utilization', '1.5'], {}, /--gpu-memory-utilization \(SLUICE_GPU_MEMORY_UTILIZATION\): must be a fraction in \(0, 1\], got "1.5"/],
    [['--gpu-memory-utilization', '0.5'], {}, /--gpu-memory-utilization \(SLUICE_GPU_MEMORY_UTILIZATION\): applies only with --engine llm/],
    [['--engine', 'llm', '--model', '.', '--device', 'tpu'], {}, /command line: option '--device <device>' argument 'tpu' is invalid/],
    [['--engine', 'llm', '--model', '.'], { SLUICE_DEVICE: 'tpu' }, /--device \(SLUICE_DEVICE\): must be one of cpu, cuda/],
    [['--engine', 'llm', '--model', '.', '--max-num-batched-tokens', '0'], {}, /--max-num-batched-tokens \(SLUICE_MAX_NUM_BATCHED_TOKENS\): must be between 1/],
    [['--engine', 'llm', '--model', '.', '--grammar-compile-timeout-ms', '0'], {}, /--grammar-compile-timeout-ms \(SLUICE_GRAMMAR_COMPILE_TIMEOUT_MS\): must be between 1/],
    [['--engine', 'llm', '--model', '.', '--grammar-mask-timeout-ms', '600001'], {}, /--grammar-mask-timeout-ms \(SLUICE_GRAMMAR_MASK_TIMEOUT_MS\): must be between 1/],
    [['--grammar-mask-timeout-ms', '100'], {}, /--grammar-mask-timeout-ms \(SLUICE_GRAMMAR_MASK_TIMEOUT_MS\): applies only with --engine llm/],
    [['--engine', 'llm', '--model', '.', '--echo-break-on', 'x'], {}, /--echo-break-on \(SLUICE_ECHO_BREAK_ON\): applies only with --engine echo/],
    [['--engine', 'llm', '--model', '.', '--grammar-threads', '65'], {}, /--grammar-threads \(SLUICE_GRAMMAR_THREADS\): must be between 1 and 64/],
  ])('rejects %j %j naming the setting', (argv, env, message) => {
    expect(() => resolveConfig(argv as string[], env as NodeJS.ProcessEnv)).toThrow(ConfigError);
    expect(() => resolveConfig(argv as string[], env as NodeJS.ProcessEnv)).toThrow(message);
  });

  it('takes SASL SCRAM and TLS settings, reading secrets from files or the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cfg-'));
    writeFileSync(join(dir, 'ca.pem'), 'CA');
    writeFileSync(join(dir, 'pw'), 'from-file\n');
    const c = resolveConfig(['--kafka-ssl-ca', join(dir, 'ca.pem'), '--sasl-mechanism', 'scram-sha-256', '--sasl-username', 'svc', '--sasl-password-file', join(dir, 'pw')], {});
    expect(c.ssl).toEqual({ ca: 'CA', cert: undefined, key: undefined, rejectUnauthorized: true });
    expect(c.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'svc', password: 'from-file' });
    const e = resolveConfig(['--sasl-mechanism', 'plain', '--sasl-username', 'svc'], { SLUICE_KAFKA_SASL_PASSWORD: 'from-env' });
    expect(e.sasl?.password).toBe('from-env');
  });

  it('documents every flag, its variable and the env-only settings in --help', () => {
    let help = '';
    buildCommand().configureOutput({ writeOut: (text) => (help += text), getOutHelpWidth: () => 400 }).outputHelp();
    const docs = settingDocs();
    // --version, -v and -q have no variable: they are for a person at a terminal.
    expect(docs.map((d) => d.flag)).toEqual(buildCommand().options.map((o) => o.long).filter((f) => !['--version', '--verbose', '--quiet'].includes(f ?? '')));
    for (const d of docs) {
      expect(help).toContain(d.flag);
      expect(help).toContain(`env: ${d.env}`);
    }
    for (const e of EXTRA_ENV) expect(help).toContain(e.env);
  });

  it('takes a TLS client key only together with its certificate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cfg-'));
    writeFileSync(join(dir, 'key.pem'), 'KEY');
    expect(() => resolveConfig(['--kafka-ssl-key', join(dir, 'key.pem')], {})).toThrow(/--kafka-ssl-cert \(SLUICE_KAFKA_SSL_CERT\): mutual TLS needs both/);
  });

  it('takes every SASL mechanism the brokers may ask for', () => {
    for (const m of ['plain', 'scram-sha-256', 'scram-sha-512']) {
      expect(resolveConfig(['--sasl-mechanism', m, '--sasl-username', 'u'], { SLUICE_KAFKA_SASL_PASSWORD: 'p' }).sasl).toEqual({ mechanism: m, username: 'u', password: 'p' });
    }
  });
});

describe('decode limits', () => {
  it('has a flag and a variable for every limit of the schema table, with its default, and --max-prompt-bytes for the prompt', () => {
    const c = resolveConfig([], {});
    expect(c.decodeLimits).toEqual(DEFAULT_DECODE_LIMITS);
    expect(c.decodeTimeoutMs).toBe(2000);
    const docs = settingDocs();
    for (const l of DECODE_LIMITS) expect(docs.some((d) => d.flag === `--${l.name.replace(/[A-Z]/g, (x) => `-${x.toLowerCase()}`)}`)).toBe(true);
    expect(docs.find((d) => d.flag === '--max-message-bytes')).toMatchObject({ env: 'SLUICE_MAX_MESSAGE_BYTES', default: '1048576' });
  });

  it('reads them from flags and variables and hands --max-prompt-bytes to the decoder too', () => {
    const c = resolveConfig(['--max-metadata-entries', '8', '--max-prompt-bytes', '500', '--decode-timeout-ms', '750'], { SLUICE_MAX_MESSAGE_BYTES: '4096', SLUICE_MAX_STOP_STRINGS: '3' });
    expect(c.decodeLimits).toMatchObject({ maxMetadataEntries: 8, maxMessageBytes: 4096, maxStopStrings: 3, maxPromptBytes: 500 });
    expect(c.decodeTimeoutMs).toBe(750);
  });

  it.each([
    [['--max-message-bytes', '0'], /--max-message-bytes \(SLUICE_MAX_MESSAGE_BYTES\): must be between 1/],
    [['--max-messages', '-3'], /--max-messages \(SLUICE_MAX_MESSAGES\): must be between 1/],
    [['--max-collection-items', '2.5'], /--max-collection-items \(SLUICE_MAX_COLLECTION_ITEMS\): must be an integer, got "2.5"/],
    [['--decode-timeout-ms', 'soon'], /--decode-timeout-ms \(SLUICE_DECODE_TIMEOUT_MS\): must be an integer/],
  ])('refuses %j naming the flag and its variable', (argv, message) => {
    expect(() => resolveConfig(argv, {})).toThrow(ConfigError);
    expect(() => resolveConfig(argv, {})).toThrow(message);
  });
});

describe('engine options', () => {
  it('passes only the ones given, sizes with units, from flags or variables', () => {
    expect(resolveConfig(['--engine', 'llm', '--model', '.'], {}).engineOptions).toEqual({});
    const c = resolveConfig(['--engine', 'llm', '--model', '.', '--kv-cache-bytes', '20GiB', '--max-num-seqs', '128'], { SLUICE_DEVICE: 'cuda', SLUICE_MAX_NUM_BATCHED_TOKENS: '4096' });
    expect(c.engineOptions).toEqual({ device: 'cuda', kvCacheBytes: 20 * 2 ** 30, maxNumSeqs: 128, maxNumBatchedTokens: 4096 });
    expect(resolveConfig(['--engine', 'llm', '--model', '.', '--dtype', 'bfloat16'], {}).engineOptions).toEqual({ dtype: 'bfloat16' });
    expect(resolveConfig(['--engine', 'llm', '--model', '.'], { SLUICE_GRAMMAR_COMPILE_TIMEOUT_MS: '2500' }).engineOptions).toEqual({ grammarCompileTimeoutMs: 2500 });
    expect(resolveConfig(['--engine', 'llm', '--model', '.'], { SLUICE_GRAMMAR_MASK_TIMEOUT_MS: '250' }).engineOptions).toEqual({ grammarMaskTimeoutMs: 250 });
    expect(resolveConfig(['--engine', 'llm', '--model', '.', '--grammar-threads', '3'], {}).engineOptions).toEqual({ grammarThreads: 3 });
    expect(resolveConfig(['--engine', 'llm', '--model', '.'], { SLUICE_DTYPE: 'float32' }).engineOptions).toEqual({ dtype: 'float32' });
    expect(resolveConfig(['--engine', 'llm', '--model', '.', '--kv-cache-dtype', 'bfloat16'], {}).engineOptions).toEqual({ kvCacheDtype: 'bfloat16' });
    expect(resolveConfig(['--engine', 'llm', '--model', '.'], { SLUICE_KV_CACHE_DTYPE: 'auto' }).engineOptions).toEqual({ kvCacheDtype: 'auto' });
    expect(resolveConfig(['--engine', 'llm', '--model', '.', '--device', 'cuda', '--gpu-memory-utilization', '0.45']).engineOptions).toEqual({ device: 'cuda', gpuMemoryUtilization: 0.45 });
  });

});

describe('parseDuration', () => {
  it.each([['30s', 30_000], ['500ms', 500], ['2m', 120_000], ['250', 250], ['1.5s', 1500]])('%s is %d ms', (t, ms) => expect(parseDuration(t)).toBe(ms));
  it('rejects nonsense', () => expect(parseDuration('later')).toBeUndefined());
});

describe('health and drain settings', () => {
  it('default to a loopback-only drain, a 10 minute stall timeout and 10 failed commits', () => {
    expect(resolveConfig([], {})).toMatchObject({ drainEndpoint: 'loopback', stallTimeoutMs: 600_000, maxCommitFailures: 10 });
    expect(resolveConfig(['--stall-timeout', '90s', '--max-commit-failures', '3'], { SLUICE_DRAIN_ENDPOINT: 'off' })).toMatchObject({ drainEndpoint: 'off', stallTimeoutMs: 90_000, maxCommitFailures: 3 });
  });

  it.each([
    [['--drain-endpoint', 'public'], /--drain-endpoint/],
    [['--stall-timeout', '500ms'], /--stall-timeout \(SLUICE_STALL_TIMEOUT\): must be a duration of at least 1s/],
    [['--stall-timeout', 'soon'], /--stall-timeout \(SLUICE_STALL_TIMEOUT\)/],
    [['--max-commit-failures', '0'], /--max-commit-failures \(SLUICE_MAX_COMMIT_FAILURES\): must be between 1/],
  ])('rejects %j naming the setting', (argv, message) => {
    expect(() => resolveConfig(argv, {})).toThrow(ConfigError);
    expect(() => resolveConfig(argv, {})).toThrow(message);
  });
});
