import type { ConsumerConfig } from '../config';
import { ConfigError } from '../errors';
import { EchoEngine } from './echo-engine';
import type { InferenceEngine } from './inference-engine';

/** The engine the config names. The llm adapter needs @sluice/engine's AsyncEngine, which has not landed yet. */
export async function createEngine(config: ConsumerConfig): Promise<InferenceEngine> {
  if (config.engine === 'echo') return new EchoEngine({ delayMs: config.echoDelayMs });
  throw new ConfigError('--engine (SLUICE_ENGINE)', 'llm is not available in this build: @sluice/engine does not export its AsyncEngine yet; use --engine echo');
}
