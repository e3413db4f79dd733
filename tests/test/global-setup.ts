// Starts a real Kafka broker and S3 server once per jest run, on the e2e ports, in a fresh data dir.
import { rmSync } from 'node:fs';
import { startLocalServices, stopLocalServices, type LocalServices } from '@sluice/infra';
import { e2eSettings } from '../src/harness';

declare global {
  var __SLUICE_E2E_SERVICES__: LocalServices | undefined;
}

export default async function globalSetup(): Promise<void> {
  const settings = e2eSettings();
  // A run that was interrupted may have left its services up: its pid files find them before the wipe.
  await stopLocalServices(settings);
  rmSync(settings.dataDir, { recursive: true, force: true });
  globalThis.__SLUICE_E2E_SERVICES__ = await startLocalServices(settings);
}
