import { Command } from 'commander';
import { addLogFlags } from './log-flags';
import { logger } from './logger';

function run(args: string[]): void {
  const program = addLogFlags(new Command('sluice').exitOverride());
  program.command('noop').exitOverride().action(() => undefined);
  program.parse(['node', 'sluice', ...args]);
}

describe('-v, -q and --log-format on every command', () => {
  const level = logger.level;
  afterEach(() => (logger.level = level));

  it('sets the level before or after the command name', () => {
    run(['noop', '-v']);
    expect(logger.level).toBe('debug');
    run(['-q', 'noop']);
    expect(logger.level).toBe('fatal');
    expect(() => run(['noop', '-v', '-q'])).toThrow('-v/--verbose and -q/--quiet exclude each other');
  });

  it('writes JSON lines, or colourised lines with --log-format pretty', () => {
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    try {
      run(['noop', '--log-format', 'json']);
      logger.error({ n: 1 }, 'as json');
      run(['noop', '--log-format', 'pretty']);
      logger.error({ n: 2 }, 'as pretty');
    } finally {
      spy.mockRestore();
      run(['noop', '--log-format', 'json']);
    }
    expect(JSON.parse(written[0])).toMatchObject({ level: 50, n: 1, msg: 'as json' });
    expect(written.slice(1).join('')).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] \x1b\[31mERROR\x1b\[39m: \x1b\[36mas pretty\x1b\[39m\n {4}\x1b\[35mn\x1b\[39m: 2\n$/);
  });
});
