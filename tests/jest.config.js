// Node 20 is supported; the AWS SDK's notice about its future Node 22 floor would only clutter test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
module.exports = {
  ...require('../jest.preset.js'),
  displayName: '@sluice/e2e',
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // Real JVM services on a shared 2-core machine: generous, never asserted.
  testTimeout: 300_000,
};
