// Starts a real Kafka broker and S3 server once per jest run, on the e2e ports, in a fresh data dir.
import { startSuiteServices } from '@sluice/infra';
import { e2eSettings } from '../src/harness';

export default async function globalSetup(): Promise<void> {
  await startSuiteServices(e2eSettings());
}
