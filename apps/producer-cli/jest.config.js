const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: '@sluice/producer-cli',
  // hyparquet and its codecs ship ES modules only: ts-jest turns them into CommonJS like our own sources.
  transform: { ...preset.transform, '^.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true }, isolatedModules: true }] },
  transformIgnorePatterns: ['/node_modules/(?!(hyparquet|hyparquet-writer|hyparquet-compressors|hysnappy)/)'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // Real JVM services on a shared 2-core machine: generous, never asserted.
  testTimeout: 300_000,
};
