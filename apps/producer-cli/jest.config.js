module.exports = { ...require('../../jest.preset.js'), displayName: '@sluice/producer-cli' };
