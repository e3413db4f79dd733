import { createServer, type Server } from 'node:net';
import { assertPortFree } from './ports';

function listen(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

describe('assertPortFree', () => {
  it('passes for a free port and fails with PORT_IN_USE naming the setting for a bound one', async () => {
    const server = await listen();
    const port = (server.address() as { port: number }).port;
    await expect(assertPortFree('127.0.0.1', port, 'Kafka (broker)', 'SLUICE_KAFKA_PORT')).rejects.toMatchObject({
      code: 'PORT_IN_USE',
      message: `Cannot start Kafka (broker): port ${port} on 127.0.0.1 is already in use by another process; stop that process or set SLUICE_KAFKA_PORT to a free port.`,
    });
    await new Promise((resolve) => server.close(resolve));
    await expect(assertPortFree('127.0.0.1', port, 'Kafka (broker)', 'SLUICE_KAFKA_PORT')).resolves.toBeUndefined();
  });
});
