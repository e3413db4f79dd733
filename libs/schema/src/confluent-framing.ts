// Confluent Schema Registry wire framing: magic byte 0, the schema id (4 bytes big-endian), then the Avro body.
import { SchemaError } from './errors';

const MAGIC = 0;
const HEADER_BYTES = 5;

export function isConfluentFramed(bytes: Uint8Array): boolean {
  return bytes.length >= 1 && bytes[0] === MAGIC;
}

export function frameConfluent(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(MAGIC, 0);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

export function parseConfluentFrame(bytes: Buffer): { schemaId: number; body: Buffer } {
  if (!isConfluentFramed(bytes)) throw new SchemaError('BAD_FRAMING', `Confluent framing needs magic byte 0, got ${bytes.length ? bytes[0] : 'no bytes'}`);
  if (bytes.length < HEADER_BYTES) throw new SchemaError('BAD_FRAMING', `Confluent header cut short (${bytes.length} of ${HEADER_BYTES} bytes)`);
  return { schemaId: bytes.readInt32BE(1), body: bytes.subarray(HEADER_BYTES) };
}
