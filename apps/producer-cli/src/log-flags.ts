// -v/--verbose, -q/--quiet and --log-format for every command: the log level and format; --verbose also shows an unexpected failure's stack.
import { Option, type Command } from 'commander';
import { logger, setLogFormat, type LogFormat } from './logger';

/** Adds the flags to the program (commander sees a program's options after any subcommand too). */
export function addLogFlags(program: Command): Command {
  program
    .option('-v, --verbose', 'log more (debug level), including the stack trace of an unexpected failure')
    .option('-q, --quiet', 'log nothing but fatal errors (the one-line failure messages stay)')
    .addOption(new Option('--log-format <format>', 'log lines on stderr: pretty (colourised) or json (default: pretty on a terminal, else json; env SLUICE_LOG_FORMAT)').choices(['pretty', 'json']))
    .hook('preAction', () => {
      const { verbose, quiet, logFormat } = program.opts<{ verbose?: boolean; quiet?: boolean; logFormat?: LogFormat }>();
      if (logFormat) setLogFormat(logFormat);
      if (verbose && quiet) throw program.error('-v/--verbose and -q/--quiet exclude each other', { exitCode: 2 });
      if (verbose) logger.level = 'debug';
      if (quiet) logger.level = 'fatal';
    });
  return program;
}
