// Device-side index checks on (SLUICE_DEVICE_CHECKS): CUDA then reports bad indices as E_RANGE, as the CPU does,
// so the suite's range assertions hold on every device. Set here, before any test worker creates a backend.
process.env.SLUICE_DEVICE_CHECKS = '1';
module.exports = { ...require('../../jest.preset.js'), displayName: '@sluice/cuda-kernels' };
