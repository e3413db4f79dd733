import { AsyncEngine, type EngineOptions } from '@sluice/engine';
import type { EngineJob, EngineLoad, EngineResult, InferenceEngine } from './inference-engine';
import { engineError, engineLoad, engineRequest, engineResult } from './llm-mapping';

/**
 * The InferenceEngine port over @sluice/engine's AsyncEngine: the model runs in the engine's worker thread, so
 * the consumer's event loop (Kafka, commits, probes) never waits on compute. Jobs go in under their job_id.
 */
export class LlmEngine implements InferenceEngine {
  readonly model: string;

  private constructor(private readonly engine: AsyncEngine) {
    this.model = engine.modelName;
  }

  /** Loads the model; rejects with the engine's typed error (ModelLoadError, InvalidEngineOptionsError). */
  static async start(options: EngineOptions): Promise<LlmEngine> {
    return new LlmEngine(await AsyncEngine.start(options));
  }

  async submit(job: EngineJob): Promise<EngineResult> {
    try {
      return engineResult(await this.engine.add(engineRequest(job)));
    } catch (err) {
      throw engineError(job.id, err);
    }
  }

  abort(id: string): void {
    this.engine.abort(id);
  }

  load(): EngineLoad {
    return engineLoad(this.engine.stats());
  }

  shutdown(): Promise<void> {
    return this.engine.shutdown();
  }
}
