// Reads a batch's exported completions from S3 or a directory: the parts manifest.json lists, or every part without one.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  batchExportPrefix,
  CompletionSchemas,
  EXPORT_MANIFEST_NAME,
  parseExportPartName,
  parseExportUri,
  recordFromJsonText,
  SchemaError,
  type Completion,
  type ExportManifest,
  type ExportTarget,
} from '@sluice/schema';
import { CliError, EXIT, usageError } from '../errors';
import { logger } from '../logger';
import { keepOnePerJob } from '../status/one-per-job';
import { parquetPartRecords } from './parquet-part';

interface Store {
  list(prefix: string): Promise<string[]>;
  read(key: string): Promise<Buffer | undefined>;
}

function fileStore(dir: string): Store {
  return {
    async list(prefix) {
      try {
        return (await readdir(join(dir, prefix))).map((name) => `${prefix}${name}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    },
    async read(key) {
      try {
        return await readFile(join(dir, key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
  };
}

/** S3 settings from the environment: the standard AWS chain, plus an endpoint and path style for S3-compatible stores. */
export function s3ClientFromEnv(env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = env.SLUICE_S3_ENDPOINT;
  return new S3Client({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle: (env.SLUICE_S3_FORCE_PATH_STYLE ?? (endpoint ? 'true' : 'false')) === 'true',
  });
}

function s3Store(client: S3Client, bucket: string): Store {
  return {
    async list(prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    async read(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return Buffer.from(await out.Body!.transformToByteArray());
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
        throw err;
      }
    },
  };
}

export interface ExportRead {
  completions: Map<string, Completion>;
  manifest: ExportManifest | null;
  /** Parts read. */
  parts: number;
  /** Completion records of the batch in those parts, repeats of a job included (what manifest.json counts). */
  records: number;
  /** Part names in the batch folder that manifest.json does not list (attempts that never committed); not read. Empty without a manifest. */
  orphans: string[];
}

const nameOf = (key: string) => key.slice(key.lastIndexOf('/') + 1);

/** A part's records as JSON texts, each with where it sits (`:line` in JSONL, `:row N` in Parquet). */
async function partRecords(bytes: Buffer, name: string): Promise<Array<{ at: string; text: string }>> {
  if (parseExportPartName(name)?.format === 'parquet') return (await parquetPartRecords(bytes)).map((text, i) => ({ at: `:row ${i + 1}`, text }));
  return bytes.toString('utf8').split('\n').map((text, i) => ({ at: `:${i + 1}`, text }));
}

/** Adds one part's completions by the one-per-job rule; `where` names the part in errors. Returns the batch's records read. */
async function addCompletions(completions: Map<string, Completion>, bytes: Buffer, batchId: string, where: string): Promise<number> {
  let records = 0;
  for (const { at, text } of await partRecords(bytes, where)) {
    if (text.trim() === '') continue;
    let c: Completion;
    try {
      c = recordFromJsonText(CompletionSchemas, text);
    } catch (err) {
      if (err instanceof SchemaError) throw new CliError(EXIT.INPUT, `${where}${at}: ${err.message}`, { cause: err });
      throw err;
    }
    if (c.batch_id === batchId) records += 1;
    keepOnePerJob(completions, batchId, c);
  }
  return records;
}

// Commit order of an export: by jobs partition, then offset (a re-run's copy of a job sits later in the same partition).
function inCommitOrder(names: string[]): string[] {
  const at = (n: string) => parseExportPartName(n) ?? { partition: Infinity, firstOffset: Infinity };
  return [...names].sort((a, b) => at(a).partition - at(b).partition || at(a).firstOffset - at(b).firstOffset || (a < b ? -1 : 1));
}

/**
 * With manifest.json, reads exactly the parts it lists (the committed ones), each checked against its size and
 * SHA-256; any other part object is an orphan of an attempt that never committed and may hold another completion
 * for a listed job, so it is counted, not read. Without a manifest, reads every part; JSONL and Parquet parts alike.
 */
export async function readExport(uri: string, batchId: string, s3: () => S3Client = s3ClientFromEnv): Promise<ExportRead> {
  let target: ExportTarget;
  try {
    target = parseExportUri(uri);
  } catch (err) {
    throw usageError(`--from: ${(err as Error).message}`);
  }
  const store = target.kind === 's3' ? s3Store(s3(), target.bucket) : fileStore(target.dir);
  const prefix = batchExportPrefix(target.prefix, batchId);
  // The URI already holds target.prefix: only the batch's own folder is added to it.
  const where = `${uri.replace(/\/+$/, '')}/${batchExportPrefix('', batchId)}`;
  try {
    const present = (await store.list(prefix)).map(nameOf).filter((n) => parseExportPartName(n) !== undefined).sort();
    const manifestBytes = await store.read(`${prefix}${EXPORT_MANIFEST_NAME}`);
    const manifest = manifestBytes ? (JSON.parse(manifestBytes.toString('utf8')) as ExportManifest) : null;
    const listed = new Map((manifest?.parts ?? []).map((p) => [nameOf(p.key), p]));
    const toRead = inCommitOrder(manifest ? [...listed.keys()] : present);
    const orphans = manifest ? present.filter((n) => !listed.has(n)) : [];
    if (toRead.length === 0) {
      const ignored = orphans.length ? ` (${orphans.length} orphan parts not in ${EXPORT_MANIFEST_NAME} ignored)` : '';
      throw new CliError(EXIT.INCOMPLETE, `no exported parts for batch ${batchId} under ${where}${ignored}`);
    }
    if (!manifest) logger.warn({ batch_id: batchId, where }, `no ${EXPORT_MANIFEST_NAME}: reading all ${toRead.length} parts, which may include attempts that never committed`);
    if (orphans.length) logger.warn({ batch_id: batchId, where, orphans }, `ignored ${orphans.length} orphan parts that ${EXPORT_MANIFEST_NAME} does not list`);
    const completions = new Map<string, Completion>();
    let records = 0;
    for (const name of toRead) {
      const bytes = await store.read(`${prefix}${name}`);
      const expected = listed.get(name);
      if (!bytes) throw new CliError(EXIT.SERVICE, `${where}${EXPORT_MANIFEST_NAME} lists ${expected?.key ?? name}, which is missing`);
      if (expected && (bytes.length !== expected.bytes || createHash('sha256').update(bytes).digest('hex') !== expected.sha256)) {
        throw new CliError(EXIT.SERVICE, `${where}${name}: SHA-256 differs from manifest.json (${bytes.length} bytes, the manifest says ${expected.bytes}; a part is corrupt or being rewritten)`);
      }
      records += await addCompletions(completions, bytes, batchId, `${where}${name}`);
    }
    return { completions, manifest, parts: toRead.length, records, orphans };
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(EXIT.SERVICE, `reading the export at ${where} failed: ${(err as Error).message}`, { cause: err });
  }
}
