import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ExportError } from '../errors';
import type { ObjectStore, StoredObject, TargetProblem } from './object-store';

const versionOf = (body: Buffer) => createHash('sha256').update(body).digest('hex');

/**
 * The embedded export target: objects as files under a directory. Writes go to a temporary name and are renamed
 * into place, so a reader never sees half a part. A create-only write is atomic (a hard link fails on an existing
 * name); a write conditional on a version is checked against the file's content hash, which is safe for one worker
 * per directory (the file target is for local runs).
 */
export class FileObjectStore implements ObjectStore {
  readonly location: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.location = pathToFileURL(this.root).href;
  }

  async check(): Promise<TargetProblem | undefined> {
    try {
      await mkdir(this.root, { recursive: true });
      return undefined;
    } catch (err) {
      return { part: 'dir', message: `cannot create the export directory ${this.root}: ${(err as Error).message}` };
    }
  }

  private pathOf(key: string): string {
    const p = resolve(join(this.root, key));
    if (!p.startsWith(this.root + sep)) throw new ExportError('BAD_TARGET', `object key ${key} escapes ${this.location}`);
    return p;
  }

  async put(key: string, body: Buffer): Promise<void> {
    const p = this.pathOf(key);
    await mkdir(dirname(p), { recursive: true });
    const tmp = `${p}.${randomUUID()}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, p);
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const body = await readFile(this.pathOf(key));
      return { body, version: versionOf(body) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async holds(key: string, body: Buffer): Promise<boolean> {
    return (await this.get(key))?.body.equals(body) ?? false;
  }

  async list(prefix: string): Promise<string[]> {
    try {
      const names = await readdir(this.pathOf(prefix));
      return names.filter((n) => !n.endsWith('.tmp')).map((n) => `${prefix}${n}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async putIfUnchanged(key: string, body: Buffer, contentType: string, version: string | undefined): Promise<boolean> {
    if (version === undefined) return this.create(key, body);
    const current = await this.get(key);
    if (current?.version !== version) return false;
    await this.put(key, body);
    return true;
  }

  private async create(key: string, body: Buffer): Promise<boolean> {
    const p = this.pathOf(key);
    await mkdir(dirname(p), { recursive: true });
    const tmp = `${p}.${randomUUID()}.tmp`;
    await writeFile(tmp, body);
    try {
      await link(tmp, p);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }
}
