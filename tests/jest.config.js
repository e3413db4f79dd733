module.exports = { ...require('../jest.preset.js'), displayName: '@sluice/e2e' };
