export { AsyncEngine, type AsyncEngineStats, type AsyncRequest } from './async-engine';
