// An output JSONL file that appears whole or not at all: lines go to a file beside it, renamed over it on commit.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { CliError, EXIT } from '../errors';

export class LineFile {
  private readonly temp: string;
  private readonly stream: Writable;
  private failure: Error | undefined;

  /** `path` is a file, or `-` for stdout (written as it goes, nothing to commit). */
  constructor(readonly path: string) {
    this.temp = `${path}.partial-${process.pid}`;
    this.stream = path === '-' ? process.stdout : createWriteStream(this.temp);
    // An open error (no such directory) surfaces at the next write or at commit, naming the file.
    this.stream.on('error', (err) => (this.failure ??= err));
  }

  async write(line: string): Promise<void> {
    this.check();
    try {
      // once() rejects if the stream fails while waiting for drain.
      if (!this.stream.write(`${line}\n`)) await once(this.stream, 'drain');
    } catch (err) {
      throw this.error(err);
    }
    this.check();
  }

  async commit(): Promise<void> {
    if (this.path === '-') return;
    this.stream.end();
    try {
      await once(this.stream, 'finish');
      this.check();
      await rename(this.temp, this.path);
    } catch (err) {
      await this.discard();
      throw this.error(err);
    }
  }

  /** Removes what was written so far. */
  async discard(): Promise<void> {
    if (this.path === '-') return;
    this.stream.destroy();
    await rm(this.temp, { force: true });
  }

  private check(): void {
    if (this.failure) throw this.error(this.failure);
  }

  private error(err: unknown): CliError {
    if (err instanceof CliError) return err;
    return new CliError(EXIT.INPUT, `cannot write ${this.path}: ${(err as Error).message}`, { cause: err });
  }
}
