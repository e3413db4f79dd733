import { existsSync } from 'node:fs';
import { join } from 'node:path';

// The setup script writes the tiny checkpoints here; tests fail loudly (not skip) when setup has not run.
export const MODELS_DIR = process.env.SLUICE_MODELS_DIR ?? join(__dirname, '..', '..', '..', '..', '.cache', 'models');

export function tinyModel(name: 'tiny-llama' | 'tiny-gqa' | 'tiny-mistral-bf16'): string {
  const dir = join(MODELS_DIR, name);
  if (!existsSync(join(dir, 'config.json'))) {
    throw new Error(`${dir} is missing: run \`npm run setup -w @sluice/engine\` to generate the tiny models`);
  }
  return dir;
}
