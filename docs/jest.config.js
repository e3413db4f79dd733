module.exports = { ...require('../jest.preset.js'), displayName: '@sluice/docs' };
