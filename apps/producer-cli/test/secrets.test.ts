// URL credentials given to the CLI (a schema registry, an S3 endpoint) appear in no line it prints, at debug level too.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createTopics, freshTopics, jsonl, s3, sluice, tempDir, writeText } from './harness';

const SECRET = 'cli-url-secret-5531';
const dir = tempDir('secrets');

describe('URL credentials', () => {
  const { topics, env } = freshTopics('secrets');
  let registry: Server;
  let registryPort = 0;
  const authorizations: string[] = [];
  beforeAll(async () => {
    await createTopics(topics, 1);
    // A registry that answers every request with HTTP 500: produce's encode goes down the registry error path.
    registry = createServer((req, res) => {
      authorizations.push(req.headers.authorization ?? '');
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"registry down"}');
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    registryPort = (registry.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => registry.close(() => resolve())));

  const debug = { ...env, SLUICE_LOG_LEVEL: 'debug' };

  it('keeps --schema-registry credentials out of every line, on the registry error path and in a usage error', async () => {
    const file = writeText(dir, 'rows.jsonl', jsonl([{ prompt: 'a' }]));
    const run = await sluice(['produce', file, '--batch-id', 'b-secret', '--schema-registry', `http://svc:${SECRET}@127.0.0.1:${registryPort}`], debug);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`schema registry POST /subjects/${topics.jobs}-value/versions failed with HTTP 500`);
    expect(authorizations).toContain(`Basic ${Buffer.from(`svc:${SECRET}`).toString('base64')}`);
    const bad = await sluice(['status', 'b-secret', '--schema-registry', `ftp://svc:${SECRET}@127.0.0.1:1/`], debug);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--schema-registry: "ftp://***@127.0.0.1:1/" is not an http(s) URL') });
    for (const out of [run, bad]) expect(`${out.stdout}${out.stderr}`).not.toContain(SECRET);
  });

  it('keeps SLUICE_S3_ENDPOINT credentials out of every line when the export cannot be read', async () => {
    const config = s3();
    const unreachable = { SLUICE_S3_ENDPOINT: `http://ak:${SECRET}@127.0.0.1:1`, AWS_ACCESS_KEY_ID: config.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: config.credentials.secretAccessKey, AWS_REGION: config.region };
    const run = await sluice(['collect', 'b-secret', '-o', join(dir, 'out.jsonl'), '--from', 's3://bucket/prefix'], { ...debug, ...unreachable });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('sluice: reading the export at s3://bucket/prefix/');
    expect(`${run.stdout}${run.stderr}`).not.toContain(SECRET);
  });
});
