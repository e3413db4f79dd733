// The `sluice` command line: produce, status, collect, generate; flags, validation and what each prints.
import { Command, Option } from 'commander';
import { redactUrl } from '@sluice/schema';
import { usageError } from './errors';
import { collect } from './collect/collect';
import { byteSize, deadline, integer, positiveSeconds } from './cli-values';
import { addMappingFlags, formatFromFlags, mappingFromFlags } from './input/mapping-flags';
import { addKafkaFlags, resolveKafkaSettings } from './kafka/settings';
import { checkBatchId, newBatchId } from './produce/batch-id';
import { produce } from './produce/produce';
import { addSamplingFlags, samplingFromFlags } from './produce/sampling-flags';
import { status } from './status/status';
import type { EngineSettings } from './generate/generate';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  signal?: AbortSignal;
}

/** With --skip-bad: each skipped row (the first few) on stderr, after the run. */
function reportSkipped(io: Io, summary: { bad_rows: number; bad_examples: string[] }): void {
  for (const example of summary.bad_examples) io.err(`skipped ${example}`);
  if (summary.bad_rows > summary.bad_examples.length) io.err(`... and ${summary.bad_rows - summary.bad_examples.length} more bad rows`);
}

const timeoutOption = () => new Option('--timeout <seconds>', 'give up reading Kafka after this long').default(120).argParser(positiveSeconds);

function produceCommand(io: Io): Command {
  const cmd = new Command('produce')
    .description('Produce a dataset file as prompt jobs to the jobs topic, then a batch manifest to the batches topic.')
    .argument('<file>', 'input file: JSONL, CSV/TSV, Parquet, or OpenAI Batch API input (.jsonl)');
  addMappingFlags(cmd)
    .option('--model-field <name>', 'field holding a per-row model name', 'model')
    .option('--model <name>', 'model for rows that name none')
    .addOption(new Option('--deadline <time>', 'deadline for every job: a window from now (24h, 30m, 7d), ISO-8601 or ms since the epoch; not in the past').argParser((v) => deadline(v)));
  addSamplingFlags(cmd);
  cmd
    .option('--skip-bad', 'skip bad rows, count them and report them at the end (default: stop at the first)')
    .option('--dry-run', 'read and check the whole file, produce nothing')
    .option('--rerun', 'produce a --batch-id that already has a manifest again (its failed jobs are retried; one completion per job is kept)')
    .option('--create-topics', 'create the jobs, results, dead-letter and batches topics if missing')
    .addOption(new Option('--partitions <n>', 'partitions of created jobs/results topics').default(6).argParser(integer(1, 10000)))
    .addOption(new Option('--replication-factor <n>', 'replication factor of created topics').default(1).argParser(integer(1, 100)))
    .addOption(new Option('--compression <codec>', 'producer compression').choices(['gzip', 'none']).default('gzip'))
    .addOption(new Option('--max-message-bytes <n>', 'jobs larger than this are bad rows (the broker\'s message.max.bytes)').default(1_000_000).argParser(integer(1024)))
    .option('--no-progress', 'no progress bar (it is also off when stderr is not a terminal)')
    .option('--json', 'print the summary as JSON on stdout');
  addKafkaFlags(cmd);
  return cmd.action(async (file: string, flags: Record<string, unknown>) => {
    const settings = resolveKafkaSettings(flags);
    const sampling = samplingFromFlags(flags);
    if (flags.rerun && flags.batchId === undefined) throw usageError('--rerun: give the --batch-id to produce again');
    const summary = await produce(settings, {
      file,
      format: formatFromFlags(flags),
      batchId: flags.batchId === undefined ? newBatchId() : checkBatchId(String(flags.batchId)),
      mapping: mappingFromFlags(flags, sampling, { model: flags.model as string | undefined, deadline: flags.deadline as number | undefined }),
      skipBad: flags.skipBad === true,
      dryRun: flags.dryRun === true,
      createTopics: flags.createTopics ? { partitions: flags.partitions as number, replicationFactor: flags.replicationFactor as number } : undefined,
      compression: flags.compression as 'gzip' | 'none',
      progress: flags.progress !== false && process.stderr.isTTY === true,
      maxMessageBytes: flags.maxMessageBytes as number,
      refuseExisting: flags.batchId !== undefined && flags.rerun !== true,
      signal: io.signal,
    });
    reportSkipped(io, summary);
    if (flags.json) return io.out(JSON.stringify(summary));
    const verb = summary.dry_run ? 'checked' : `produced to ${summary.topic}`;
    const bad = summary.bad_rows ? `; ${summary.bad_rows} bad rows skipped` : '';
    io.out(`batch ${summary.batch_id}: ${summary.jobs} jobs ${verb} from ${summary.source} (${summary.format}) in ${summary.seconds.toFixed(1)} s, ${Math.round(summary.jobs_per_second)} jobs/s${bad}`);
  });
}

function statusCommand(io: Io): Command {
  const cmd = new Command('status')
    .description('Count a batch\'s jobs: done, failed, dead-lettered, pending (jobs in its manifest not yet accounted for).')
    .argument('<batch>', 'batch id')
    .addOption(new Option('--watch [seconds]', 'refresh every N seconds (on a terminal, in place) until nothing is pending').argParser(positiveSeconds).preset(2))
    .addOption(timeoutOption())
    .option('--failures', 'also list every failed and dead-lettered job: job id, code, reason')
    .option('--json', 'one JSON object per refresh on stdout');
  addKafkaFlags(cmd);
  return cmd.action(async (batch: string, flags: Record<string, unknown>) => {
    const settings = resolveKafkaSettings(flags);
    await status(settings, { batchId: checkBatchId(batch, '<batch>'), json: flags.json === true, watchSeconds: flags.watch as number | undefined, timeoutMs: (flags.timeout as number) * 1000, redraw: flags.json !== true && process.stdout.isTTY === true, failures: flags.failures === true, signal: io.signal }, io.out);
  });
}

function s3Endpoint(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (!/^https?:\/\/\S+$/.test(String(value))) throw usageError(`--s3-endpoint: "${redactUrl(String(value))}" is not an http(s) URL`);
  return String(value);
}

function collectCommand(io: Io): Command {
  const cmd = new Command('collect')
    .description('Write one line per job of a batch in input order (completions, error records for failed and dead-lettered jobs), from the results topic (read_committed) or an export.')
    .argument('<batch>', 'batch id')
    .requiredOption('-o, --output <file>', 'output JSONL file, or - for stdout')
    .option('--errors-file <file>', 'write error records (failed and dead-lettered jobs) here instead of --output')
    .option('--from <uri>', 'read completions from the export instead of the results topic: s3://bucket/prefix or file:///dir (the job count and dead letters still come from Kafka)')
    .option('--openai-format', 'write OpenAI Batch API output lines (custom_id, response, error); the default for a batch produced from an OpenAI Batch input file')
    .option('--no-openai-format', 'write Completion records even for a batch produced from an OpenAI Batch input file')
    .option('--tokenizer <model dir>', "the served model's directory: OpenAI output's logprobs get token text, bytes and top_logprobs (records keep token ids; without it logprobs are null)")
    .option('--partial', 'write what there is even if jobs are still pending')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint for --from s3:// (MinIO, S3Proxy; env SLUICE_S3_ENDPOINT; AWS when unset); the worker\'s flag has the same name')
    .addOption(timeoutOption())
    .option('--json', 'print the summary as JSON on stdout (so not with -o -)');
  addKafkaFlags(cmd);
  return cmd.action(async (batch: string, flags: Record<string, unknown>) => {
    const settings = resolveKafkaSettings(flags);
    if (flags.output === '') throw usageError('--output: a file name or - is required');
    checkJsonOutput(flags);
    const summary = await collect(settings, {
      batchId: checkBatchId(batch, '<batch>'),
      output: String(flags.output),
      errorsFile: flags.errorsFile as string | undefined,
      from: flags.from as string | undefined,
      s3Endpoint: s3Endpoint(flags.s3Endpoint),
      openaiFormat: flags.openaiFormat as boolean | undefined,
      tokenizer: flags.tokenizer as string | undefined,
      partial: flags.partial === true,
      timeoutMs: (flags.timeout as number) * 1000,
      signal: io.signal,
    });
    if (flags.json) return io.out(JSON.stringify(summary));
    const pending = summary.pending ? `, ${summary.pending} pending` : '';
    const dead = summary.dead_lettered ? `, ${summary.dead_lettered} of them dead-lettered` : '';
    const orphans = summary.orphans_ignored ? `; ${summary.orphans_ignored} uncommitted part objects ignored` : '';
    const to = summary.errors_file ? `${summary.output}, errors to ${summary.errors_file}` : summary.output;
    const tokens = `${summary.usage.prompt_tokens} prompt + ${summary.usage.completion_tokens} output tokens`;
    io.err(`batch ${summary.batch_id}: wrote ${summary.written} lines (${summary.written - summary.failed} completed, ${summary.failed} failed${dead}${pending}; ${tokens}) from ${summary.source} to ${to}${orphans}`);
  });
}

function generateCommand(io: Io): Command {
  const cmd = new Command('generate')
    .description('Run a local model over a file of prompts without Kafka: one completion line per row, in input order.')
    .requiredOption('--model <dir>', 'local Hugging Face model directory (config.json, tokenizer files, *.safetensors)')
    .requiredOption('--input <file>', 'input file: JSONL, CSV/TSV, Parquet, or OpenAI Batch API input (.jsonl)')
    .requiredOption('-o, --output <file>', 'output JSONL file, or - for stdout');
  addMappingFlags(cmd);
  addSamplingFlags(cmd);
  cmd
    .option('--skip-bad', 'skip bad rows, count them and report them at the end (default: stop at the first, before any inference)')
    .option('--openai-format', 'write OpenAI Batch API output lines (custom_id, response, error); the default for an OpenAI Batch input file')
    .option('--no-openai-format', 'write Completion records even for an OpenAI Batch input file')
    .option('--served-model-name <names>', 'comma-separated names rows may use for the model besides its own (e.g. gpt-4o-mini, so an OpenAI Batch file naming it runs on purpose); other names get MODEL_MISMATCH, as in a worker')
    .addOption(new Option('--device <kind>', 'where the model runs').choices(['cpu', 'cuda']).default('cpu'))
    .addOption(new Option('--dtype <dtype>', "weight dtype, as vLLM names it (cpu: float32 or bfloat16; cuda: the checkpoint's)")
      .choices(['auto', 'float32', 'bfloat16', 'float16']).default('auto'))
    .addOption(new Option('--kv-cache-dtype <dtype>', "KV cache dtype, as vLLM's kv_cache_dtype: auto (the compute dtype: f32 on cpu) or bfloat16 (half the bytes, twice the blocks per --kv-cache-bytes; cuda: only with a bf16 checkpoint)")
      .choices(['auto', 'bfloat16']).default('auto'))
    .addOption(new Option('--max-num-seqs <n>', 'sequences per engine step (engine default 64)').argParser(integer(1, 4096)))
    .addOption(new Option('--kv-cache-bytes <size>', 'KV cache memory: bytes or with a unit, 512MiB, 2GiB (engine default 256MiB); the worker\'s flag has the same name').argParser(byteSize))
    .addOption(new Option('--kv-cache-mib <n>', 'deprecated: --kv-cache-bytes <n>MiB').argParser(integer(1)).conflicts('kvCacheBytes'))
    .addOption(new Option('--max-model-len <n>', "longest prompt plus completion in tokens (default: the model's)").argParser(integer(1)))
    .addOption(new Option('--grammar-compile-timeout-ms <ms>', 'longest one structured-output constraint may compile (engine default 10000); a row whose constraint takes longer gets INVALID_STRUCTURED_OUTPUT').argParser(integer(1, 3_600_000)))
    .addOption(new Option('--grammar-mask-timeout-ms <ms>', 'longest the grammar thread may take over one row\'s next-token mask (engine default 500); a row whose grammar takes longer gets INVALID_STRUCTURED_OUTPUT').argParser(integer(1, 600_000)))
    .addOption(new Option('--grammar-threads <n>', 'structured-output threads: each compiles every constraint and fills the masks of its share of the rows (engine default 1 on cpu, on cuda half the cores up to 4)').argParser(integer(1, 64)))
    .option('--no-progress', 'no progress bar (it is also off when stderr is not a terminal)')
    .option('--json', 'print the summary as JSON on stdout (so not with -o -)');
  return cmd.action(async (flags: Record<string, unknown>) => {
    checkJsonOutput(flags);
    const sampling = samplingFromFlags(flags);
    // Loaded only here: the engine and its native backend are not needed by the Kafka commands.
    const [{ generate }, { startAsyncEngine }] = await Promise.all([import('./generate/generate'), import('./generate/async-engine')]);
    const summary = await generate(
      {
        engine: {
          model: String(flags.model),
          device: flags.device as 'cpu' | 'cuda',
          dtype: flags.dtype as EngineSettings['dtype'],
          kvCacheDtype: flags.kvCacheDtype as EngineSettings['kvCacheDtype'],
          maxNumSeqs: flags.maxNumSeqs as number | undefined,
          kvCacheBytes: kvCacheBytes(flags, io),
          maxModelLen: flags.maxModelLen as number | undefined,
          grammarCompileTimeoutMs: flags.grammarCompileTimeoutMs as number | undefined,
          grammarMaskTimeoutMs: flags.grammarMaskTimeoutMs as number | undefined,
          grammarThreads: flags.grammarThreads as number | undefined,
        },
        input: String(flags.input),
        format: formatFromFlags(flags),
        output: String(flags.output),
        batchId: flags.batchId === undefined ? newBatchId() : checkBatchId(String(flags.batchId)),
        mapping: mappingFromFlags(flags, sampling),
        skipBad: flags.skipBad === true,
        openaiFormat: flags.openaiFormat as boolean | undefined,
        servedModelNames: String(flags.servedModelName ?? '').split(',').map((n) => n.trim()).filter(Boolean),
        progress: flags.progress !== false && process.stderr.isTTY === true,
        signal: io.signal,
      },
      startAsyncEngine,
    );
    reportSkipped(io, summary);
    if (flags.json) return io.out(JSON.stringify(summary));
    const refused = summary.failed ? ` (${summary.failed} refused by the engine)` : '';
    const bad = summary.bad_rows ? `; ${summary.bad_rows} bad rows skipped` : '';
    io.err(`generate: wrote ${summary.requests} completions${refused} from ${summary.source} to ${summary.output} with ${summary.model} in ${summary.seconds.toFixed(1)} s, ${Math.round(summary.tokens_per_second)} tokens/s${bad}`);
  });
}

// Every command's --json summary goes to stdout; with -o - the lines own it, and mixing both would break a reader of either.
function checkJsonOutput(flags: Record<string, unknown>): void {
  if (flags.json && flags.output === '-') throw usageError('--json prints the summary on stdout, which -o - gives to the lines: write the lines to a file');
}

/** --kv-cache-bytes, or the deprecated --kv-cache-mib with a note. */
function kvCacheBytes(flags: Record<string, unknown>, io: Io): number | undefined {
  if (flags.kvCacheMib === undefined) return flags.kvCacheBytes as number | undefined;
  io.err('sluice: --kv-cache-mib is deprecated: use --kv-cache-bytes (e.g. 512MiB)');
  return (flags.kvCacheMib as number) * 1024 * 1024;
}

export function buildProgram(io: Io): Command {
  const program = new Command('sluice')
    .description('Sluice: LLM batch inference over Kafka. Produce datasets as jobs, watch batches, collect completions, or generate offline from a file.')
    .version('0.1.0')
    .showSuggestionAfterError()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .addHelpText('after', '\nExit codes: 0 ok, 1 bad input, 2 bad usage or configuration, 3 Kafka/S3 failure, 4 batch incomplete (collect), 5 model or engine failure (generate), 130 interrupted.');
  for (const cmd of [produceCommand(io), statusCommand(io), collectCommand(io), generateCommand(io)]) program.addCommand(cmd.showHelpAfterError('(run with --help for usage)'));
  program.exitOverride();
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}
