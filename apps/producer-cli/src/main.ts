#!/usr/bin/env node
// Entry point of `sluice`: runs the program, turns every failure into one stderr line and its exit code.
import { redactUrls } from '@sluice/schema';
import { CommanderError } from 'commander';
import { CliError, EXIT } from './errors';
import { logger } from './logger';
import { addLogFlags } from './log-flags';
import { buildProgram } from './program';

async function main(argv: string[]): Promise<number> {
  // Node 20 is supported: the AWS SDK's nine-line notice about its future Node 22 floor is off unless asked for.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    // First signal: stop cleanly (flush, disconnect). Second: leave at once.
    if (controller.signal.aborted) process.exit(EXIT.INTERRUPTED);
    process.stderr.write(`sluice: ${signal}, stopping (again to exit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // stderr is for people (failures, summaries, usage): no URL credentials there; stdout may carry results, left as they are.
  const io = { out: (s: string) => process.stdout.write(`${s}\n`), err: (s: string) => process.stderr.write(`${redactUrls(s)}\n`), signal: controller.signal };
  try {
    await addLogFlags(buildProgram(io)).parseAsync(argv);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    if (err instanceof CliError) {
      io.err(`sluice: ${err.message.split('\n')[0]}`);
      return err.exitCode;
    }
    // One line; the stack only with --verbose (debug level).
    logger.debug({ err }, 'unexpected failure');
    const hint = logger.isLevelEnabled('debug') ? '' : ' (run with --verbose for the stack trace)';
    io.err(`sluice: unexpected failure: ${(err as Error).message?.split('\n')[0] ?? String(err)}${hint}`);
    return EXIT.INPUT;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
