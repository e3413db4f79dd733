module.exports = {
  ...require('../jest.preset.js'),
  displayName: '@sluice/e2e',
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // Real JVM services on a shared 2-core machine: generous, never asserted.
  testTimeout: 300_000,
};
