// The built `sluice` and `sluice-consumer` binaries, run as child processes exactly as a user runs them.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function binOf(pkg: string, bin: string): string {
  const manifest = require.resolve(`${pkg}/package.json`);
  const bins = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> }).bin;
  return join(dirname(manifest), bins[bin]);
}

export const SLUICE_BIN = binOf('@sluice/producer-cli', 'sluice');
export const CONSUMER_BIN = binOf('@sluice/consumer', 'sluice-consumer');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `sluice ARGS` to completion. */
export function runSluice(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLUICE_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `sluice ARGS` and returns its stdout, or throws with everything it printed. */
export async function sluice(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await runSluice(args, env);
  if (r.code !== 0) throw new Error(`sluice ${args.join(' ')} exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** One running `sluice-consumer`: its process, the log lines it printed so far, and its exit. */
export class Worker {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private partial = '';
  private running = true;

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [CONSUMER_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (d: Buffer) => {
      const chunk = this.partial + d.toString();
      const parts = chunk.split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        this.running = false;
        resolve(signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : code);
      }),
    );
  }

  get isRunning(): boolean {
    return this.running;
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** The log's last lines, for a failure message. */
  tail(n = 40): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Log records (pino JSON lines) whose msg contains `text`. */
  logged(text: string): number {
    return this.lines.filter((l) => l.includes(text)).length;
  }
}

export async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number, pollMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
