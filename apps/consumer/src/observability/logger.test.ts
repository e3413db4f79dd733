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
});
