import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SchemaRegistryClient } from './registry-client';

const SECRET = 'reg-secret-4417';

describe('SchemaRegistryClient with credentials in its URL', () => {
  let server: Server;
  let port = 0;
  const authorizations: Array<string | undefined> = [];
  beforeAll(async () => {
    // Answers every request with HTTP 500, so each call goes down the error path after sending its credentials.
    server = createServer((req, res) => {
      authorizations.push(req.headers.authorization);
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'boom' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends them as basic auth and never puts them in an error message', async () => {
    const client = new SchemaRegistryClient({ url: `http://svc:${SECRET}@127.0.0.1:${port}/` });
    const err = await client.schemaById(7).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_ERROR', retriable: true, message: expect.stringContaining('HTTP 500') });
    expect(authorizations.at(-1)).toBe(`Basic ${Buffer.from(`svc:${SECRET}`).toString('base64')}`);
    expect(String((err as Error).message)).not.toContain(SECRET);
  });

  it('names an unreachable registry without its credentials', async () => {
    const client = new SchemaRegistryClient({ url: `http://svc:${SECRET}@127.0.0.1:1`, timeoutMs: 2000 });
    const err = (await client.register('s-value', '"string"').catch((e: Error) => e)) as Error;
    expect(err.message).toContain('schema registry http://127.0.0.1:1 unreachable');
    expect(`${err.message} ${String((err.cause as Error)?.message)}`).not.toContain(SECRET);
  });

  it('redacts the URL in its configuration errors', () => {
    expect(() => new SchemaRegistryClient({ url: `ftp://svc:${SECRET}@host/` })).toThrow('schema registry URL must be http(s), got "ftp://***@host/"');
    expect(() => new SchemaRegistryClient({ url: `svc:${SECRET}@host:8081` })).toThrow('got "***@host:8081"');
    expect(() => new SchemaRegistryClient({ url: `http://svc:${SECRET}@ho st` })).toThrow('schema registry URL is not a URL: "http://***@ho st"');
  });
});
