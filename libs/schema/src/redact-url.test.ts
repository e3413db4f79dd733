import { redactUrl, redactUrls } from './redact-url';

describe('redactUrl', () => {
  it.each([
    ['http://user:secret-1@host:8081/', 'http://***@host:8081/'],
    ['https://user:secret-1@registry.example.com/sr', 'https://***@registry.example.com/sr'],
    ['http://only-user-secret@host', 'http://***@host/'],
    ['http://:secret-1@host', 'http://***@host/'],
    ['http://user:p%40ss-secret@host/x?q=1', 'http://***@host/x?q=1'],
    ['http://user:p@ss-secret@host/', 'http://***@host/'],
  ])('replaces the userinfo of %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it('leaves a URL without userinfo exactly as given', () => {
    for (const url of ['http://127.0.0.1:9000', 'https://host/a@b', 's3://bucket/prefix']) expect(redactUrl(url)).toBe(url);
  });

  it('redacts values that do not parse as URLs', () => {
    expect(redactUrl('http://user:secret-1@ho st:99999')).toBe('http://***@ho st:99999');
    expect(redactUrl('user:secret-1@host:8081')).toBe('***@host:8081');
    expect(redactUrl('not a url')).toBe('not a url');
  });
});

describe('redactUrls', () => {
  it('cleans every URL in a message and leaves the rest alone', () => {
    const text = 'fetch http://a:secret-1@h1:1/x failed; retry https://b:secret-2@h2/y or mail ops@example.com';
    expect(redactUrls(text)).toBe('fetch http://***@h1:1/x failed; retry https://***@h2/y or mail ops@example.com');
  });

  it('works inside a JSON log line without running into the next field', () => {
    const line = JSON.stringify({ url: 'http://u:secret-1@host:1', plain: 'http://host:2', email: 'a@b', msg: 'to s3://k:secret-2@bucket/p' });
    const out = redactUrls(line);
    expect(out).not.toContain('secret-');
    expect(JSON.parse(out)).toEqual({ url: 'http://***@host:1', plain: 'http://host:2', email: 'a@b', msg: 'to s3://***@bucket/p' });
  });

  it('takes the last @ of an authority, as URL parsers do', () => {
    expect(redactUrls('GET http://user:p@ss@host/x')).toBe('GET http://***@host/x');
  });
});
