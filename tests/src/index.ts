export { e2eEndpoints, e2eSettings } from './harness';
