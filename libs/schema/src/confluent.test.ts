import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RecordCodec } from './codec';
import { frameConfluent, parseConfluentFrame } from './confluent-framing';
import { PromptJobSchemas } from './families';
import { SchemaRegistryClient } from './registry-client';
import { fullPromptJob } from '../test/records';

/** A stand-in registry speaking the two endpoints the client uses, counting requests to prove caching. */
class FakeRegistry {
  readonly requests: string[] = [];
  readonly schemas: string[] = [];
  authorization: string | undefined;
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req).then(([status, body]) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  stop(): Promise<void> {
    return new Promise((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  private async handle(req: IncomingMessage): Promise<[number, unknown]> {
    this.requests.push(`${req.method} ${req.url}`);
    this.authorization = req.headers.authorization;
    let text = '';
    for await (const chunk of req) text += chunk;
    const register = /^\/subjects\/([^/]+)\/versions$/.exec(req.url ?? '');
    if (req.method === 'POST' && register) {
      const { schema } = JSON.parse(text) as { schema: string };
      let id = this.schemas.indexOf(schema) + 1;
      if (id === 0) id = this.schemas.push(schema);
      return [200, { id: id + 100 }];
    }
    const byId = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'GET' && byId) {
      const schema = this.schemas[Number(byId[1]) - 101];
      return schema ? [200, { schema }] : [404, { error_code: 40403, message: 'Schema not found' }];
    }
    return [500, { message: 'unexpected request' }];
  }
}

describe('Confluent framing', () => {
  it('writes magic 0 and the schema id big-endian, and reads them back', () => {
    const framed = frameConfluent(258, Buffer.from([9, 9]));
    expect(framed).toEqual(Buffer.from([0, 0, 0, 1, 2, 9, 9]));
    expect(parseConfluentFrame(framed)).toEqual({ schemaId: 258, body: Buffer.from([9, 9]) });
    expect(() => parseConfluentFrame(Buffer.from([0, 1]))).toThrow(expect.objectContaining({ code: 'BAD_FRAMING' }));
  });
});

describe('RecordCodec with a schema registry', () => {
  const registry = new FakeRegistry();
  beforeAll(() => registry.start());
  afterAll(() => registry.stop());

  it('registers the schema once, frames records with its id, and decodes them fetching the schema once', async () => {
    const client = new SchemaRegistryClient({ url: registry.url, auth: { username: 'u', password: 'p' } });
    const codec = new RecordCodec(PromptJobSchemas, { registry: client, subject: 'sluice.jobs-value' });
    const job = fullPromptJob();
    const a = await codec.encode(job);
    const b = await codec.encode({ ...job, job_id: 'job-2' });
    expect(a[0]).toBe(0);
    const { schemaId } = parseConfluentFrame(a);
    expect(schemaId).toBe(101);
    expect(registry.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);

    // A second process (fresh client) reads them: one schema lookup however many records.
    const reader = new RecordCodec(PromptJobSchemas, { registry: new SchemaRegistryClient({ url: registry.url }) });
    expect(await reader.decode(a)).toEqual(job);
    expect((await reader.decode(b)).job_id).toBe('job-2');
    expect(registry.requests).toEqual(['POST /subjects/sluice.jobs-value/versions', 'GET /schemas/ids/101']);
  });

  it('resolves a v1 writer schema from the registry into the latest reader shape', async () => {
    const client = new SchemaRegistryClient({ url: registry.url });
    const v1Writer = new RecordCodec(PromptJobSchemas, { registry: client, subject: 'old-value', writeVersion: 1 });
    const { trace_id: _none, ...job } = fullPromptJob();
    // v1 has no structured-output fields (v3): the latest reader gives them null.
    const guided = { guided_json: null, guided_regex: null, guided_choice: null, guided_grammar: null, guided_json_object: null };
    const v1Job = { ...job, sampling: { ...job.sampling!, ...guided } };
    const bytes = await v1Writer.encode(v1Job);
    expect(parseConfluentFrame(bytes).schemaId).toBe(102);
    expect(await new RecordCodec(PromptJobSchemas, { registry: client }).decode(bytes)).toEqual({ ...v1Job, trace_id: null });
  });

  it('reports an id the registry does not know, and framed bytes with no registry configured', async () => {
    const codec = new RecordCodec(PromptJobSchemas, { registry: new SchemaRegistryClient({ url: registry.url }) });
    await expect(codec.decode(frameConfluent(999, Buffer.from([1])))).rejects.toMatchObject({ code: 'UNKNOWN_SCHEMA_ID', retriable: false, message: expect.stringContaining('999') });
    await expect(new RecordCodec(PromptJobSchemas).decode(frameConfluent(101, Buffer.from([1])))).rejects.toMatchObject({ code: 'REGISTRY_REQUIRED' });
  });

  it('names an unreachable registry and a bad URL', async () => {
    const closed = new SchemaRegistryClient({ url: 'http://127.0.0.1:1', timeoutMs: 2000 });
    await expect(closed.schemaById(1)).rejects.toMatchObject({ code: 'REGISTRY_ERROR', retriable: true, message: expect.stringContaining('unreachable') });
    expect(() => new SchemaRegistryClient({ url: 'ftp://x' })).toThrow(/must be http\(s\)/);
    await expect(new RecordCodec(PromptJobSchemas, { registry: closed }).encode(fullPromptJob())).rejects.toThrow(/needs a subject/);
  });
});
