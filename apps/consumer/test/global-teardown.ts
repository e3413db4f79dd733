// Stops only what global-setup started.
import { stopSuiteServices } from '@sluice/infra';
import { testSettings } from './harness';

export default async function globalTeardown(): Promise<void> {
  await stopSuiteServices(testSettings());
}
