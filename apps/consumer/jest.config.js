module.exports = {
  ...require('../../jest.preset.js'),
  displayName: '@sluice/consumer',
  // Integration suites (test/) run against a real Kafka broker and S3 server started once per run.
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // Real JVM services and child processes on a shared 2-core machine: generous, never asserted.
  testTimeout: 300_000,
};
