import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { LocalServiceError } from './errors';
import { SERVER_KEY_PASSWORD, ensureTlsFiles, tlsFiles, writeTlsFiles, type TlsFiles } from './tls';

jest.setTimeout(60_000);

const root = mkdtempSync(join(tmpdir(), 'sluice-tls-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The PEM blocks of a file, in order. */
const blocks = (path: string) => readFileSync(path, 'utf8').match(/-----BEGIN ([A-Z ]+)-----[^-]+-----END \1-----/g) ?? [];

/** A TLS server with the keystore's key and certificate; resolves whether the client's handshake was authorized on both ends. */
async function handshake(files: TlsFiles, client: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ clientOk: boolean; serverSawCert: boolean; error?: string }> {
  const [key, cert] = blocks(files.serverKeystore);
  const server = createServer({ key, passphrase: SERVER_KEY_PASSWORD, cert, ca: readFileSync(files.ca), requestCert: true, rejectUnauthorized: false });
  let serverSawCert = false;
  server.on('secureConnection', (socket: TLSSocket) => {
    serverSawCert = socket.authorized;
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, ...client }, () => {
        socket.on('close', () => resolve({ clientOk: socket.authorized, serverSawCert }));
        socket.resume();
      });
      socket.on('error', (err) => resolve({ clientOk: false, serverSawCert, error: err.message }));
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('writeTlsFiles', () => {
  const dir = join(root, 'set');
  let files: TlsFiles;
  beforeAll(async () => {
    files = await writeTlsFiles(dir);
  });

  it('leaves only the PEM files clients and the server use', () => {
    expect(readdirSync(dir).sort()).toEqual(['ca.key', 'ca.pem', 'client.key', 'client.pem', 'server-keystore.pem']);
    expect(existsSync(`${dir}.partial`)).toBe(false);
  });

  it('signs a server certificate for 127.0.0.1 and localhost and a client certificate with the CA', () => {
    const ca = new X509Certificate(readFileSync(files.ca));
    expect(ca.ca).toBe(true);
    const [key, server, chainCa] = blocks(files.serverKeystore);
    expect(key).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect(chainCa).toBe(blocks(files.ca)[0]);
    const serverCert = new X509Certificate(server);
    expect(serverCert.verify(ca.publicKey)).toBe(true);
    expect(serverCert.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost');
    const client = new X509Certificate(readFileSync(files.clientCert));
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(client.ca).toBe(false);
    expect(readFileSync(files.clientKey, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('lets a client trusting the CA and presenting the client certificate complete a mutual handshake', async () => {
    const result = await handshake(files, { ca: readFileSync(files.ca), cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) });
    expect(result).toEqual({ clientOk: true, serverSawCert: true });
  });

  it("is refused by a client that trusts only another set's CA", async () => {
    const other = await writeTlsFiles(join(root, 'other'));
    const result = await handshake(files, { ca: readFileSync(other.ca) });
    expect(result.clientOk).toBe(false);
    expect(result.error).toMatch(/certificate/);
  });
});

describe('ensureTlsFiles', () => {
  it('keeps a complete set and remakes an incomplete one', async () => {
    const dir = join(root, 'kept');
    const first = await ensureTlsFiles(dir);
    const ca = readFileSync(first.ca, 'utf8');
    await ensureTlsFiles(dir);
    expect(readFileSync(first.ca, 'utf8')).toBe(ca);
    rmSync(first.clientKey);
    const remade = await ensureTlsFiles(dir);
    expect(existsSync(remade.clientKey)).toBe(true);
    expect(readFileSync(remade.ca, 'utf8')).not.toBe(ca);
  });

  it('fails with one sentence naming openssl when it is not installed', async () => {
    const dir = join(root, 'no-openssl');
    let error: unknown;
    try {
      await ensureTlsFiles(dir, { PATH: join(root, 'empty-bin') });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LocalServiceError);
    expect(error).toMatchObject({
      code: 'PREREQUISITE_MISSING',
      message: 'openssl was not found on PATH: the local Kafka needs it to make its TLS certificates; install OpenSSL (Debian/Ubuntu: apt-get install openssl).',
    });
    expect(Object.values(tlsFiles(dir)).some((path) => existsSync(path))).toBe(false);
  });
});
