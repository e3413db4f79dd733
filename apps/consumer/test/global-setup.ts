// Starts a real Kafka broker and S3 server once per jest run, on this suite's ports, in a fresh data dir.
import { startSuiteServices } from '@sluice/infra';
import { testSettings } from './harness';

export default async function globalSetup(): Promise<void> {
  await startSuiteServices(testSettings());
}
