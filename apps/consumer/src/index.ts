export { OffsetTracker, type DonePrefix } from './offsets/offset-tracker';
export { EchoEngine } from './engine/echo-engine';
export type { InferenceEngine, EngineJob, EngineResult, EngineLoad } from './engine/inference-engine';
export { Exporter } from './export/exporter';
export type { ExportManifest, ExportManifestPart } from './export/manifest';
