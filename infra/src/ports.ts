import { createServer } from 'node:net';
import { LocalServiceError } from './errors';

/** Fails with PORT_IN_USE unless `port` can be bound on `host` right now. */
export function assertPortFree(host: string, port: number, what: string, setting: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EACCES') {
        reject(new LocalServiceError('PORT_IN_USE', `Cannot start ${what}: binding port ${port} on ${host} is not permitted; set ${setting} to a port above 1023.`));
      } else if (err.code === 'EADDRINUSE') {
        reject(
          new LocalServiceError(
            'PORT_IN_USE',
            `Cannot start ${what}: port ${port} on ${host} is already in use by another process; stop that process or set ${setting} to a free port.`,
          ),
        );
      } else reject(err);
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolvePromise()));
  });
}
