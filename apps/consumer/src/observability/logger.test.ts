import { Writable } from 'node:stream';
import { createLogger } from './logger';

describe('createLogger', () => {
  it('never prints a SASL password, TLS key or S3 secret', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const log = createLogger('info', 'w1', sink);
    log.info({ config: { sasl: { mechanism: 'plain', username: 'u', password: 'hunter2' }, ssl: { key: 'PRIVATE KEY' } }, s3: { credentials: { secretAccessKey: 'abc123' } } }, 'starting');
    log.info({ job_id: 'j', password: 'top' }, 'x');
    const out = lines.join('');
    for (const secret of ['hunter2', 'PRIVATE KEY', 'abc123', 'top"']) expect(out).not.toContain(secret);
    expect(out).toContain('"worker_id":"w1"');
    expect(out).toContain('"job_id":"j"');
  });

  it('replaces the userinfo of every URL in a line: message, fields, nested objects and errors', () => {
    const lines: string[] = [];
    const log = createLogger('debug', 'w1', new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }));
    const err = new Error('schema registry http://svc:url-secret-1@reg:8081 unreachable');
    log.error({ err, endpoint: 'http://ak:url-secret-2@s3:9000', nested: { text: 'retry https://u:url-secret-3@h/x' } }, 'GET http://a:url-secret-4@h/ failed');
    const out = lines.join('');
    expect(out).not.toContain('url-secret');
    const line = JSON.parse(out) as { msg: string; endpoint: string; err: { message: string; stack: string } };
    expect(line.msg).toBe('GET http://***@h/ failed');
    expect(line.endpoint).toBe('http://***@s3:9000');
    expect(line.err.message).toBe('schema registry http://***@reg:8081 unreachable');
  });
});
