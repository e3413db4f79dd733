// local/install.mjs and the CLI when a prerequisite is missing: each fails at once with one sentence saying what to do.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCAL = join(__dirname, '..', 'local');
const scratch = mkdtempSync(join(tmpdir(), 'sluice-install-'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(LOCAL, script), ...args], { env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A JAVA_HOME whose bin/java prints `version` the way `java -version` does (on stderr). */
function fakeJavaHome(version: string): string {
  const home = join(scratch, `jdk-${version}`);
  mkdirSync(join(home, 'bin'), { recursive: true });
  const java = join(home, 'bin', 'java');
  writeFileSync(java, `#!/bin/sh\necho 'openjdk version "${version}" 2024-01-16' >&2\n`);
  chmodSync(java, 0o755);
  return home;
}

// No mvn on this PATH, and an empty cache, so an install would need it.
const noMaven = { PATH: scratch, HOME: scratch, SLUICE_CACHE_DIR: join(scratch, 'cache') };

describe('install.mjs prerequisites', () => {
  it('names a missing java and how to fix it', async () => {
    const result = await run('install.mjs', ['all'], { ...noMaven, JAVA_HOME: join(scratch, 'no-such-jdk') });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `infra: Java 17 or newer is required but no \`java\` was found on JAVA_HOME (${join(scratch, 'no-such-jdk', 'bin', 'java')}): install a JDK 17+ (e.g. \`apt-get install openjdk-17-jdk-headless\`) or set JAVA_HOME to one.`,
    );
  });

  it.each(['11.0.22', '1.8.0_392'])('refuses Java %s', async (version) => {
    const result = await run('install.mjs', ['kafka', '--json'], { ...noMaven, JAVA_HOME: fakeJavaHome(version) });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      error: { code: 'PREREQUISITE_MISSING', message: expect.stringContaining(`Java ${version} found on JAVA_HOME`) },
    });
    expect(result.stderr).toContain('need Java 17 or newer');
  });

  it('asks for Maven when the jars are not cached yet', async () => {
    const result = await run('install.mjs', ['s3'], { ...noMaven, JAVA_HOME: fakeJavaHome('21.0.2') });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('infra: Maven (`mvn`) is required to fetch the Kafka and S3Proxy jars from Maven Central but was not found on PATH');
  });

  it('rejects an unknown service', async () => {
    const result = await run('install.mjs', ['zookeeper'], { ...noMaven, JAVA_HOME: fakeJavaHome('21.0.2') });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('infra: Unknown service "zookeeper": expected kafka, s3 or all.');
  });
});

describe('sluice-local start without java', () => {
  it('fails before launching anything, with the same sentence', async () => {
    const result = await run('sluice-local.mjs', ['start', 'kafka'], {
      ...process.env,
      JAVA_HOME: join(scratch, 'no-such-jdk'),
      SLUICE_KAFKA_PORT: '29192',
      SLUICE_KAFKA_CONTROLLER_PORT: '29193',
      SLUICE_S3_PORT: '29100',
      SLUICE_DATA_DIR: join(scratch, 'data'),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('sluice-local: Java 17 or newer is required but no `java` was found on JAVA_HOME');
    expect(result.stdout).toBe('');
  });
});
