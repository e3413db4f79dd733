import { tokenIdList } from './config';

/** generation_config.json: the stop ids and the sampling defaults a checkpoint ships with. */
export interface GenerationDefaults {
  eosTokenIds: number[];
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
}

export function parseGenerationConfig(raw: Record<string, unknown>): GenerationDefaults {
  const num = (k: string) => (typeof raw[k] === 'number' ? (raw[k] as number) : undefined);
  return {
    eosTokenIds: tokenIdList(raw.eos_token_id),
    temperature: raw.do_sample === false ? undefined : num('temperature'),
    topP: num('top_p'),
    topK: num('top_k'),
    repetitionPenalty: num('repetition_penalty'),
  };
}
