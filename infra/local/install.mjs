#!/usr/bin/env node
// Resolves the jars of the local Kafka broker and S3Proxy from Maven Central into a cache outside git.
// Plain Node ESM with builtins only, because workspace `setup` scripts run before anything is built.
// Usage: node infra/local/install.mjs [kafka|s3|all] [--json]
// With --json, stdout is one JSON object (the manifest, or {"error":{code,message}}); progress goes to stderr.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const MIN_JAVA = 17;
// Fully qualified, so Maven needs no plugin-prefix metadata and resolves the same plugin everywhere.
const COPY_DEPENDENCIES = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies';

/** Maven projects whose runtime dependencies form each service's classpath. */
export const SERVICES = {
  kafka: { pom: join(here, 'maven', 'kafka', 'pom.xml'), label: 'Apache Kafka' },
  s3: { pom: join(here, 'maven', 's3proxy', 'pom.xml'), label: 'S3Proxy' },
};

export class InstallError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'InstallError';
    this.code = code;
  }
}

export function cacheDir(env = process.env) {
  return resolve(env.SLUICE_CACHE_DIR || join(homedir(), '.cache', 'sluice', 'infra'));
}

function javaCommand(env) {
  return env.JAVA_HOME ? join(env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** Finds java and checks it is 17 or newer; returns { java, version }. */
export function checkJava(env = process.env) {
  const java = javaCommand(env);
  const where = env.JAVA_HOME ? `JAVA_HOME (${java})` : 'PATH';
  const result = spawnSync(java, ['-version'], { encoding: 'utf8', env });
  if (result.error) {
    throw new InstallError(
      'PREREQUISITE_MISSING',
      `Java ${MIN_JAVA} or newer is required but no \`java\` was found on ${where}: install a JDK ${MIN_JAVA}+ (e.g. \`apt-get install openjdk-17-jdk-headless\`) or set JAVA_HOME to one.`,
    );
  }
  const match = /version "([^"]+)"/.exec(`${result.stderr}${result.stdout}`);
  if (!match) {
    throw new InstallError('PREREQUISITE_MISSING', `Could not read the version printed by \`${java} -version\`: install a JDK ${MIN_JAVA}+ or set JAVA_HOME to one.`);
  }
  const parts = match[1].split(/[._-]/).map(Number);
  const major = parts[0] === 1 ? parts[1] : parts[0];
  if (!(major >= MIN_JAVA)) {
    throw new InstallError(
      'PREREQUISITE_MISSING',
      `Java ${match[1]} found on ${where}, but Kafka 4 and S3Proxy need Java ${MIN_JAVA} or newer: install a JDK ${MIN_JAVA}+ and put it first on PATH or set JAVA_HOME to it.`,
    );
  }
  return { java, version: match[1] };
}

function checkMaven(env) {
  const result = spawnSync('mvn', ['-v'], { encoding: 'utf8', env });
  if (result.error || result.status !== 0) {
    throw new InstallError(
      'PREREQUISITE_MISSING',
      'Maven (`mvn`) is required to fetch the Kafka and S3Proxy jars from Maven Central but was not found on PATH: install it (e.g. `apt-get install maven`).',
    );
  }
}

function serviceDir(name, env) {
  // Keyed by the pom's content so a version bump resolves a fresh classpath next to the old one.
  const hash = createHash('sha256').update(readFileSync(SERVICES[name].pom)).digest('hex').slice(0, 12);
  return join(cacheDir(env), `${name}-${hash}`);
}

function isComplete(dir) {
  return existsSync(join(dir, '.complete'));
}

function resolveJars(name, target, env, log) {
  const tmp = `${target}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const args = ['-B', '-q', '-ntp', '-f', SERVICES[name].pom, COPY_DEPENDENCIES, '-DincludeScope=runtime', `-DoutputDirectory=${join(tmp, 'lib')}`];
  if (env.SLUICE_MAVEN_REPO_LOCAL) args.push(`-Dmaven.repo.local=${resolve(env.SLUICE_MAVEN_REPO_LOCAL)}`);
  log(`infra: resolving ${SERVICES[name].label} jars from Maven Central into ${target} ...`);
  const started = Date.now();
  const result = spawnSync('mvn', args, { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  if (result.error || result.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    log(`${result.stdout ?? ''}${result.stderr ?? ''}`.trim());
    throw new InstallError(
      'INSTALL_FAILED',
      `Maven could not resolve the ${SERVICES[name].label} jars (output above): check access to https://repo.maven.apache.org and any mirror in ~/.m2/settings.xml.`,
    );
  }
  const jars = readdirSync(join(tmp, 'lib')).filter((f) => f.endsWith('.jar')).length;
  writeFileSync(join(tmp, '.complete'), `${new Date().toISOString()} ${jars} jars\n`);
  try {
    renameSync(tmp, target);
  } catch (err) {
    // Another installer finished first: its complete copy is as good as ours.
    rmSync(tmp, { recursive: true, force: true });
    if (!isComplete(target)) throw err;
  }
  log(`infra: ${SERVICES[name].label}: ${jars} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * Makes sure java works and each named service's jars are cached; fast when already done.
 * Returns { java, javaVersion, services: { [name]: { libDir, classpath } } }.
 */
export function install(names, { env = process.env, log = (line) => console.error(line) } = {}) {
  const { java, version } = checkJava(env);
  mkdirSync(cacheDir(env), { recursive: true });
  const services = {};
  let mavenChecked = false;
  for (const name of names) {
    if (!SERVICES[name]) throw new InstallError('BAD_CONFIG', `Unknown service "${name}": expected kafka, s3 or all.`);
    const dir = serviceDir(name, env);
    if (!isComplete(dir)) {
      if (!mavenChecked) checkMaven(env);
      mavenChecked = true;
      resolveJars(name, dir, env, log);
    }
    const libDir = join(dir, 'lib');
    services[name] = { libDir, classpath: join(libDir, '*') };
  }
  return { java, javaVersion: version, services };
}

export function parseServices(arg) {
  if (arg === undefined || arg === 'all') return Object.keys(SERVICES);
  if (!SERVICES[arg]) throw new InstallError('BAD_CONFIG', `Unknown service "${arg}": expected kafka, s3 or all.`);
  return [arg];
}

export function main(argv) {
  const json = argv.includes('--json');
  const positional = argv.filter((a) => !a.startsWith('--'));
  try {
    const manifest = install(parseServices(positional[0]));
    if (json) process.stdout.write(`${JSON.stringify(manifest)}\n`);
    else for (const [name, s] of Object.entries(manifest.services)) console.log(`infra: ${name} jars ready in ${s.libDir}`);
  } catch (err) {
    if (!(err instanceof InstallError)) throw err;
    if (json) process.stdout.write(`${JSON.stringify({ error: { code: err.code, message: err.message } })}\n`);
    console.error(`infra: ${err.message}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
