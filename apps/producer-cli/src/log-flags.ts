// -v/--verbose and -q/--quiet for every command: they set the log level, and --verbose shows an unexpected failure's stack.
import type { Command } from 'commander';
import { logger } from './logger';

/** Adds the flags to the program (commander sees a program's options after any subcommand too). */
export function addLogFlags(program: Command): Command {
  program
    .option('-v, --verbose', 'log more (debug level), including the stack trace of an unexpected failure')
    .option('-q, --quiet', 'log nothing but fatal errors (the one-line failure messages stay)')
    .hook('preAction', () => {
      const { verbose, quiet } = program.opts<{ verbose?: boolean; quiet?: boolean }>();
      if (verbose && quiet) throw program.error('-v/--verbose and -q/--quiet exclude each other', { exitCode: 2 });
      if (verbose) logger.level = 'debug';
      if (quiet) logger.level = 'fatal';
    });
  return program;
}
