// One output line for a completion: the Completion record's JSON (as the export writes it) or an OpenAI Batch API line.
import { recordToJson, type Completion } from '@sluice/schema';
import { openAiOutputLine } from '../collect/openai-output';
import type { TokenBytes } from './token-text';

export function completionLine(c: Completion, openai: boolean, tokenBytes?: TokenBytes): string {
  return openai ? JSON.stringify(openAiOutputLine(c, tokenBytes)) : recordToJson(c);
}
