import { InvalidEngineOptionsError, ModelLoadError } from '@sluice/engine';
import { settingLabel, type ConsumerConfig } from '../config';
import { ConfigError } from '../errors';
import { EchoEngine } from './echo-engine';
import type { InferenceEngine } from './inference-engine';
import { LlmEngine } from './llm-engine';

/** The engine the config names; a model or engine option the engine refuses is a ConfigError naming the flag. */
export async function createEngine(config: ConsumerConfig): Promise<InferenceEngine> {
  if (config.engine === 'echo') return new EchoEngine({ delayMs: config.echoDelayMs });
  try {
    return await LlmEngine.start({ model: config.model!, ...config.engineOptions });
  } catch (err) {
    if (err instanceof InvalidEngineOptionsError) throw new ConfigError(settingLabel(err.option) ?? 'engine options', err.message);
    if (err instanceof ModelLoadError) throw new ConfigError(settingLabel('model')!, err.message);
    throw err;
  }
}
