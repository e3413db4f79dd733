// One output line for a completion: the Completion record's JSON (as the export writes it) or an OpenAI Batch API line.
import { recordToJson, type Completion } from '@sluice/schema';
import { openAiOutputLine } from '../collect/openai-output';
import type { TokenText } from './token-text';

export function completionLine(c: Completion, openai: boolean, tokenText?: TokenText): string {
  return openai ? JSON.stringify(openAiOutputLine(c, tokenText)) : recordToJson(c);
}
