import { crc64Avro } from './crc64-avro';

// Reference fingerprints of the Avro specification's test data (signed 64-bit, as the Java implementation prints them).
describe('crc64Avro', () => {
  it.each([
    ['"null"', '7195948357588979594'],
    ['"int"', '8247732601305521295'],
  ])('fingerprints %s as %s', (canonical, expected) => {
    expect(BigInt.asIntN(64, crc64Avro(Buffer.from(canonical))).toString()).toBe(expected);
  });

  it('differs for schemas that differ by one byte', () => {
    expect(crc64Avro(Buffer.from('"long"'))).not.toBe(crc64Avro(Buffer.from('"lonh"')));
  });
});
