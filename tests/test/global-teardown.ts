// Stops only what global-setup started; services that were already running are left alone.
import { stopSuiteServices } from '@sluice/infra';
import { e2eSettings } from '../src/harness';

export default async function globalTeardown(): Promise<void> {
  await stopSuiteServices(e2eSettings());
}
