#!/usr/bin/env node
// Local Kafka broker (KRaft) and S3 server (S3Proxy) on loopback, no Docker needed.
// Usage: node infra/local/sluice-local.mjs <start|stop|status|install> [kafka|s3|all]
// `install` needs no build; the other commands run the compiled @sluice/infra CLI (infra/dist).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main as install } from './install.mjs';

// The SDK's notice about future Node versions is noise for a readiness probe.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const argv = process.argv.slice(2);
if (argv[0] === 'install') {
  install(argv.slice(1));
} else {
  const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
  if (!existsSync(cli)) {
    console.error('sluice-local: @sluice/infra is not built yet: run `npx nx build @sluice/infra` (or `npm run build`) in the repository root, then retry.');
    process.exit(1);
  }
  const { main } = createRequire(import.meta.url)(cli);
  process.exitCode = await main(argv);
}
