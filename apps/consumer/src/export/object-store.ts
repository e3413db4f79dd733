export interface StoredObject {
  body: Buffer;
  /** Opaque version (ETag for S3) for conditional writes. */
  version: string;
}

/** Which part of the target's settings is wrong, and how. */
export interface TargetProblem {
  part: 'bucket' | 'endpoint' | 'dir';
  message: string;
}

/** Where the export goes: S3 (any S3-compatible server) or a local directory (file://). */
export interface ObjectStore {
  /** Where objects land, for logs: s3://bucket or file:///dir. */
  readonly location: string;
  /** What keeps the target from being written (no such bucket, unreachable, denied), or undefined when it is fine. */
  check(): Promise<TargetProblem | undefined>;
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  get(key: string): Promise<StoredObject | undefined>;
  /** Whether the object at key has exactly these bytes (false when absent). */
  holds(key: string, body: Buffer): Promise<boolean>;
  /** Keys under a prefix (a folder: it ends with '/'). */
  list(prefix: string): Promise<string[]>;
  /** Writes only if the object is still at `version` (undefined: only if absent), atomically; false when someone else changed or created it. */
  putIfUnchanged(key: string, body: Buffer, contentType: string, version: string | undefined): Promise<boolean>;
}
