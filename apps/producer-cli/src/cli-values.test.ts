import { InvalidArgumentError } from 'commander';
import { byteSize, deadline } from './cli-values';

describe('--deadline', () => {
  const now = Date.UTC(2026, 0, 2, 3, 4, 5);

  it('takes a window from now, as OpenAI\'s completion_window', () => {
    expect(deadline('24h', now)).toBe(now + 24 * 3_600_000);
    expect(deadline('30m', now)).toBe(now + 30 * 60_000);
    expect(deadline('90s', now)).toBe(now + 90_000);
    expect(deadline('1.5d', now)).toBe(now + 36 * 3_600_000);
  });

  it('takes an ISO-8601 time or ms since the epoch', () => {
    expect(deadline('2026-01-03T00:00:00Z', now)).toBe(Date.UTC(2026, 0, 3));
    expect(deadline(String(now + 1), now)).toBe(now + 1);
  });

  it('refuses a time already past, and what it cannot read', () => {
    expect(() => deadline('2026-01-01T00:00:00Z', now)).toThrow(new InvalidArgumentError('"2026-01-01T00:00:00Z" is in the past (2026-01-01T00:00:00.000Z); every job would expire unrun'));
    expect(() => deadline('0h', now)).toThrow(/is in the past/);
    expect(() => deadline('tomorrow', now)).toThrow('expected a window like 24h, 30m or 7d, an ISO-8601 date-time or milliseconds since the epoch, got "tomorrow"');
  });
});

describe('--kv-cache-bytes', () => {
  it('reads bytes with or without a unit, as the worker does', () => {
    expect(byteSize('536870912')).toBe(536_870_912);
    expect(byteSize('512MiB')).toBe(512 * 2 ** 20);
    expect(byteSize('1.5GB')).toBe(1_500_000_000);
    expect(() => byteSize('lots')).toThrow('expected a size like 536870912, 512MiB or 20GiB, got "lots"');
    expect(() => byteSize('0')).toThrow(/expected a size/);
  });
});
