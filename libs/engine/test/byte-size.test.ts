import { parseByteSize } from '../src/byte-size';

describe('parseByteSize', () => {
  it.each([['1073741824', 2 ** 30], ['512MiB', 512 * 2 ** 20], ['1.5GB', 1.5e9], ['64 kib', 65536], ['7b', 7]])('%s is %d bytes', (t, n) => expect(parseByteSize(t)).toBe(n));
  it.each(['12 parsecs', '', 'MiB', '-5', '1e3', '99999999999999999999GiB'])('refuses "%s"', (t) => expect(parseByteSize(t)).toBeUndefined());
});
