// A small Confluent Schema Registry client over fetch: register and look up schemas, each answer cached for the process.
import { SchemaError } from './errors';
import { redactUrl, redactUrls } from './redact-url';

export interface RegistryClientOptions {
  /** Base URL, e.g. http://localhost:8081; `http://user:pass@host` credentials are sent as basic auth, never logged. */
  url: string;
  /** Basic auth, as Confluent Cloud and most secured registries use; wins over credentials in the URL. */
  auth?: { username: string; password: string };
  /** Per-request timeout; the registry is on the hot path only until the cache warms. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export class SchemaRegistryClient {
  private readonly base: string;
  private readonly auth: RegistryClientOptions['auth'];
  private readonly ids = new Map<string, Promise<number>>();
  private readonly schemas = new Map<number, Promise<string>>();

  constructor(private readonly options: RegistryClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new SchemaError('REGISTRY_ERROR', `schema registry URL is not a URL: "${redactUrl(options.url)}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SchemaError('REGISTRY_ERROR', `schema registry URL must be http(s), got "${redactUrl(options.url)}"`);
    // Credentials in the URL become basic auth (fetch refuses URLs that carry them), so `base` is safe to put in messages.
    if (url.username || url.password) {
      this.auth = options.auth ?? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
      url.username = '';
      url.password = '';
    } else {
      this.auth = options.auth;
    }
    this.base = url.toString().replace(/\/+$/, '');
  }

  /** The id of `schema` under `subject`, registering it if new (the registry answers the existing id for a known schema). */
  register(subject: string, schema: string): Promise<number> {
    const key = `${subject}\n${schema}`;
    return this.cached(this.ids, key, async () => {
      const body = await this.request(`/subjects/${encodeURIComponent(subject)}/versions`, { method: 'POST', body: JSON.stringify({ schema }) });
      if (typeof body.id !== 'number') throw new SchemaError('REGISTRY_ERROR', `schema registry answered no id when registering under subject ${subject}`);
      return body.id;
    });
  }

  /** The schema text registered under `id`. */
  schemaById(id: number): Promise<string> {
    return this.cached(this.schemas, id, async () => {
      const body = await this.request(`/schemas/ids/${id}`, { method: 'GET' }, id);
      if (typeof body.schema !== 'string') throw new SchemaError('REGISTRY_ERROR', `schema registry answered no schema for id ${id}`);
      return body.schema;
    });
  }

  // A failed lookup is forgotten so the next call asks again instead of repeating a transient error forever.
  private cached<K, V>(cache: Map<K, Promise<V>>, key: K, load: () => Promise<V>): Promise<V> {
    let hit = cache.get(key);
    if (!hit) {
      hit = load();
      cache.set(key, hit);
      hit.catch(() => cache.delete(key));
    }
    return hit;
  }

  private async request(path: string, init: { method: string; body?: string }, schemaId?: number): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { accept: CONTENT_TYPE, 'content-type': CONTENT_TYPE };
    const { timeoutMs = 10_000 } = this.options;
    const { auth } = this;
    if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(`${this.base}${path}`, { ...init, headers, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new SchemaError('REGISTRY_ERROR', `schema registry ${this.base} unreachable (${init.method} ${path}): ${redactUrls((err as Error).message)}`, undefined, { cause: err });
    }
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      body = { message: text.slice(0, 200) };
    }
    if (response.status === 404 && schemaId !== undefined) throw new SchemaError('UNKNOWN_SCHEMA_ID', `schema registry ${this.base} knows no schema id ${schemaId}`);
    if (!response.ok) throw new SchemaError('REGISTRY_ERROR', `schema registry ${init.method} ${path} failed with HTTP ${response.status}: ${String(body.message ?? '')}`);
    return body;
  }
}
