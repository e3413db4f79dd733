// Reads a batch's exported completions from S3 or a directory, checking parts against manifest.json when present.
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
  parts: number;
}

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
    const keys = (await store.list(prefix)).filter((k) => parseExportPartName(k)?.format === 'jsonl').sort();
    const manifestBytes = await store.read(`${prefix}${EXPORT_MANIFEST_NAME}`);
    const manifest = manifestBytes ? (JSON.parse(manifestBytes.toString('utf8')) as ExportManifest) : null;
    if (keys.length === 0) throw new CliError(EXIT.INCOMPLETE, `no exported parts for batch ${batchId} under ${where}`);
    const checksums = new Map(manifest?.parts.map((p) => [p.key.slice(p.key.lastIndexOf('/') + 1), p.sha256]) ?? []);
    for (const p of manifest?.parts ?? []) {
      if (!keys.some((k) => k.endsWith(`/${p.key.slice(p.key.lastIndexOf('/') + 1)}`))) throw new CliError(EXIT.SERVICE, `${where}${EXPORT_MANIFEST_NAME} lists ${p.key}, which is missing`);
    }
    const completions = new Map<string, Completion>();
    for (const key of keys) {
      const bytes = (await store.read(key)) as Buffer;
      const name = key.slice(key.lastIndexOf('/') + 1);
      const expected = checksums.get(name);
      if (expected && createHash('sha256').update(bytes).digest('hex') !== expected) throw new CliError(EXIT.SERVICE, `${where}${name}: SHA-256 differs from manifest.json (a part is corrupt or being rewritten)`);
      const lines = bytes.toString('utf8').split('\n');
      for (const [i, line] of lines.entries()) {
        if (line.trim() === '') continue;
        let c: Completion;
        try {
          c = recordFromJsonText(CompletionSchemas, line);
        } catch (err) {
          if (err instanceof SchemaError) throw new CliError(EXIT.INPUT, `${where}${name}:${i + 1}: ${err.message}`, { cause: err });
          throw err;
        }
        // Parts may overlap after a replay: one completion per job, a success over an error.
        const previous = completions.get(c.job_id);
        if (c.batch_id === batchId && (!previous || (previous.error && !c.error))) completions.set(c.job_id, c);
      }
    }
    return { completions, manifest, parts: keys.length };
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(EXIT.SERVICE, `reading the export at ${where} failed: ${(err as Error).message}`, { cause: err });
  }
}
