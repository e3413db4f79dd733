// Starts a real Kafka broker and S3 server once per jest run, on this suite's ports, in a fresh data dir.
import { rmSync } from 'node:fs';
import { startLocalServices, stopLocalServices, type LocalServices } from '@sluice/infra';
import { testSettings } from './harness';

declare global {
  var __SLUICE_CLI_SERVICES__: LocalServices | undefined;
}

export default async function globalSetup(): Promise<void> {
  const settings = testSettings();
  // An interrupted run may have left its services up: its pid files find them before the wipe.
  await stopLocalServices(settings);
  rmSync(settings.dataDir, { recursive: true, force: true });
  globalThis.__SLUICE_CLI_SERVICES__ = await startLocalServices(settings);
}
