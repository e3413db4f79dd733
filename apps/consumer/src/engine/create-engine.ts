import { InvalidEngineOptionsError, ModelLoadError } from '@sluice/engine';
import type { Logger } from 'pino';
import { settingLabel, type ConsumerConfig } from '../config';
import { ConfigError } from '../errors';
import { EchoEngine } from './echo-engine';
import type { InferenceEngine } from './inference-engine';
import { LlmEngine } from './llm-engine';
import { consecutiveFailureLimit, SelfHealingEngine } from './self-healing-engine';

/**
 * The engine the config names, started again whenever it breaks (SelfHealingEngine); a model or engine option the
 * engine refuses is a ConfigError naming the flag.
 */
export async function createEngine(config: ConsumerConfig, log: Logger): Promise<InferenceEngine> {
  return SelfHealingEngine.start({ start: () => startEngine(config), maxConsecutiveFailures: consecutiveFailureLimit(config.maxInFlight), log });
}

async function startEngine(config: ConsumerConfig): Promise<InferenceEngine> {
  if (config.engine === 'echo') return new EchoEngine({ delayMs: config.echoDelayMs, breakOn: config.echoBreakOn });
  try {
    return await LlmEngine.start({ model: config.model!, ...config.engineOptions });
  } catch (err) {
    if (err instanceof InvalidEngineOptionsError) throw new ConfigError(settingLabel(err.option) ?? 'engine options', err.message);
    if (err instanceof ModelLoadError) throw new ConfigError(settingLabel('model')!, err.message);
    throw err;
  }
}
