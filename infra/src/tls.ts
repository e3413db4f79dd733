// A throwaway certificate authority for loopback TLS: a CA, a server certificate for 127.0.0.1/localhost and a client
// certificate, all PEM, made with the openssl command line (Debian's ca-certificates depends on it).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalServiceError } from './errors';

/** Encrypts the server key in its keystore file: Kafka reads a PEM keystore file only with a key password. Loopback only. */
export const SERVER_KEY_PASSWORD = 'sluice-local';

/** Paths of the PEM files under one directory. */
export interface TlsFiles {
  /** The CA certificate clients and the server trust. */
  ca: string;
  caKey: string;
  /** Server keystore: the encrypted PKCS#8 key (SERVER_KEY_PASSWORD), its certificate, then the CA's. */
  serverKeystore: string;
  /** Client certificate and its unencrypted key, signed by the CA, for mutual TLS. */
  clientCert: string;
  clientKey: string;
}

export function tlsFiles(dir: string): TlsFiles {
  const at = (name: string) => join(dir, name);
  return { ca: at('ca.pem'), caKey: at('ca.key'), serverKeystore: at('server-keystore.pem'), clientCert: at('client.pem'), clientKey: at('client.key') };
}

const VALID_DAYS = '3650';

function openssl(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, env }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(
          new LocalServiceError('PREREQUISITE_MISSING', 'openssl was not found on PATH: the local Kafka needs it to make its TLS certificates; install OpenSSL (Debian/Ubuntu: apt-get install openssl).'),
        );
      }
      reject(new LocalServiceError('START_FAILED', `openssl ${args[0]} failed making TLS certificates in ${cwd}: ${stderr.trim() || err.message}`));
    });
  });
}

/** Signs `name`.csr with the CA into `name`.pem, with the extensions of one leaf role. */
async function signLeaf(dir: string, name: string, extensions: string, env: NodeJS.ProcessEnv): Promise<void> {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  const serial = `0x${randomBytes(16).toString('hex')}`;
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', serial, '-days', VALID_DAYS, '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir, env);
}

const newKeyAndCsr = (name: string, subject: string) => ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject];

/**
 * Makes a fresh CA, server and client certificate in `dir` (replacing what is there) and returns their paths.
 * Fails with PREREQUISITE_MISSING when openssl is not installed, START_FAILED when it errs.
 */
export async function writeTlsFiles(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<TlsFiles> {
  // Made aside and renamed into place: `dir` never holds half a set.
  const work = `${dir}.partial`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const ca = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', VALID_DAYS, '-sha256', '-subj', '/CN=Sluice local CA', ...ca], work, env);
  await openssl(newKeyAndCsr('server', '/CN=localhost'), work, env);
  await signLeaf(work, 'server', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n', env);
  await openssl(['pkcs8', '-topk8', '-in', 'server.key', '-out', 'server-key.p8', '-v1', 'PBE-SHA1-3DES', '-passout', `pass:${SERVER_KEY_PASSWORD}`], work, env);
  await openssl(newKeyAndCsr('client', '/CN=sluice-client'), work, env);
  await signLeaf(work, 'client', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n', env);
  const read = (name: string) => readFileSync(join(work, name), 'utf8');
  writeFileSync(join(work, 'server-keystore.pem'), read('server-key.p8') + read('server.pem') + read('ca.pem'), { mode: 0o600 });
  for (const name of ['server.key', 'server.csr', 'server.ext', 'server.pem', 'server-key.p8', 'client.csr', 'client.ext']) rmSync(join(work, name));
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  return tlsFiles(dir);
}

/** The files in `dir`, made once: a set kept from an earlier start stays, so a CA a user trusts stays the same. */
export async function ensureTlsFiles(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<TlsFiles> {
  const files = tlsFiles(dir);
  if (Object.values(files).every((path) => existsSync(path))) return files;
  return writeTlsFiles(dir, env);
}
