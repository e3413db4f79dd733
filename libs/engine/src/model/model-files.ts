import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expectedTensorShapes, ModelConfig, parseModelConfig } from './config';
import { GenerationDefaults, parseGenerationConfig } from './generation-config';
import { ModelLoadError } from './model-load-error';
import { readSafetensorsHeader, TensorInfo } from './safetensors-header';

/** Everything in a Hugging Face model directory the engine needs, validated before any weight is read. */
export interface ModelFiles {
  dir: string;
  config: ModelConfig;
  generation: GenerationDefaults;
  weightFiles: string[];
  /** Where each expected tensor lives; tied lm_head is absent. */
  tensors: Map<string, TensorInfo>;
  tokenizerJson: string;
  tokenizerConfig: Record<string, unknown>;
  chatTemplate?: string;
}

const CHECKPOINT_DTYPES = new Set(['F32', 'BF16', 'F16']);

function readJson(file: string, required: boolean): Record<string, unknown> | undefined {
  if (!existsSync(file)) {
    if (!required) return undefined;
    throw new ModelLoadError('MODEL_FILE_MISSING', `${file}: required model file is missing`, file);
  }
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelLoadError('MODEL_FILE_INVALID', `${file}: not valid JSON (${(e as Error).message})`, file);
  }
}

// model.safetensors.index.json names the shards; otherwise one model.safetensors, or every *.safetensors in the dir.
function listWeightFiles(dir: string): string[] {
  const index = readJson(join(dir, 'model.safetensors.index.json'), false);
  if (index) {
    const map = index.weight_map as Record<string, string> | undefined;
    if (!map || typeof map !== 'object') {
      const f = join(dir, 'model.safetensors.index.json');
      throw new ModelLoadError('MODEL_FILE_INVALID', `${f}: has no "weight_map"`, f);
    }
    return [...new Set(Object.values(map))].sort().map((f) => join(dir, f));
  }
  if (existsSync(join(dir, 'model.safetensors'))) return [join(dir, 'model.safetensors')];
  const shards = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
  if (shards.length === 0) {
    const f = join(dir, 'model.safetensors');
    throw new ModelLoadError('MODEL_FILE_MISSING', `${f}: no .safetensors weights in ${dir}`, f);
  }
  return shards.map((f) => join(dir, f));
}

function indexTensors(files: string[], config: ModelConfig): Map<string, TensorInfo> {
  const all = new Map<string, TensorInfo>();
  for (const file of files) {
    if (!existsSync(file)) throw new ModelLoadError('MODEL_FILE_MISSING', `${file}: weight shard is missing`, file);
    for (const [name, info] of readSafetensorsHeader(file)) all.set(name, info);
  }
  const out = new Map<string, TensorInfo>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    const info = all.get(name);
    if (!info) {
      throw new ModelLoadError('MODEL_TENSOR_MISSING', `tensor "${name}" is not in ${files.join(', ')}`, files[0], name);
    }
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(
        'MODEL_TENSOR_SHAPE',
        `${info.file}: tensor "${name}" has shape [${info.shape}] but config.json implies [${shape}]`,
        info.file, name,
      );
    }
    if (!CHECKPOINT_DTYPES.has(info.dtype)) {
      throw new ModelLoadError('MODEL_TENSOR_DTYPE', `${info.file}: tensor "${name}" has dtype ${info.dtype} (F32, BF16 or F16 expected)`, info.file, name);
    }
    out.set(name, info);
  }
  return out;
}

function readChatTemplate(dir: string, tokenizerConfig: Record<string, unknown>): string | undefined {
  const file = join(dir, 'chat_template.jinja');
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const t = tokenizerConfig.chat_template;
  if (typeof t === 'string') return t;
  // Some checkpoints ship named templates: [{name, template}]; "default" is the one used for plain chat.
  if (Array.isArray(t)) return (t.find((x) => x?.name === 'default') ?? t[0])?.template;
  return undefined;
}

export function resolveModelFiles(modelDir: string): ModelFiles {
  const dir = resolve(modelDir);
  if (!existsSync(dir)) throw new ModelLoadError('MODEL_FILE_MISSING', `${dir}: model directory does not exist`, dir);
  const configFile = join(dir, 'config.json');
  const config = parseModelConfig(readJson(configFile, true)!, configFile);
  const generation = parseGenerationConfig(readJson(join(dir, 'generation_config.json'), false) ?? {});
  if (generation.eosTokenIds.length === 0) generation.eosTokenIds = config.eosTokenIds;
  const tokenizerJson = join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerJson)) {
    throw new ModelLoadError('MODEL_FILE_MISSING', `${tokenizerJson}: required model file is missing`, tokenizerJson);
  }
  const tokenizerConfig = readJson(join(dir, 'tokenizer_config.json'), false) ?? {};
  const weightFiles = listWeightFiles(dir);
  return {
    dir, config, generation, weightFiles, tensors: indexTensors(weightFiles, config),
    tokenizerJson, tokenizerConfig, chatTemplate: readChatTemplate(dir, tokenizerConfig),
  };
}
