// PromptJob decoding off the main thread: framing, the bounded Avro walk, avsc and validation run in a DecodeThread.
import { isConfluentFramed, parseConfluentFrame, SchemaError, type DecodeLimits, type SchemaErrorCode, type SchemaRegistryClient } from '@sluice/schema';
import type { Logger } from 'pino';
import { DecodeThread, RemoteDecodeError } from './decode-thread';
import type { PromptJob } from './schema';

// Runs in the thread. The main thread fetches a Confluent record's writer schema (async, cached) and sends its text
// along; this stand-in registry hands it to the codec, which caches the parsed type by id. A job goes back as JSON
// text: a string crosses threads as one copy, where a structured clone of the record costs more than its decode.
const JOB_DECODER_BODY = `
function makeDecoder({ schemaModule, registry, limits }) {
  const { RecordCodec, PromptJobSchemas, SchemaError } = require(schemaModule);
  const texts = new Map();
  const schemaById = async (id) => {
    if (!texts.has(id)) throw new SchemaError('REGISTRY_ERROR', 'schema id ' + id + ' was not sent to the decode thread');
    return texts.get(id);
  };
  const codec = new RecordCodec(PromptJobSchemas, { registry: registry ? { schemaById } : undefined, limits });
  return async (bytes, writer) => {
    if (writer) texts.set(writer.id, writer.text);
    return JSON.stringify(await codec.decode(bytes));
  };
}`;

export interface JobDecoderOptions {
  registry?: SchemaRegistryClient;
  limits: DecodeLimits;
  /** Budget of one record's decode in the thread (--decode-timeout-ms). */
  timeoutMs: number;
  log?: Logger;
}

/**
 * Decodes and validates jobs in any wire format (single-object Avro, Confluent framing, JSON) on a decode thread.
 * Rejects with SchemaError for bad input (a registry outage is REGISTRY_ERROR, as with RecordCodec), DecodeThreadError
 * when the budget ran out or the thread died, and RemoteDecodeError for anything else a decoder threw.
 */
export class JobDecoder {
  private readonly thread: DecodeThread;

  constructor(private readonly o: JobDecoderOptions) {
    const data = { schemaModule: require.resolve('@sluice/schema'), registry: !!o.registry, limits: o.limits };
    this.thread = new DecodeThread({ body: JOB_DECODER_BODY, data, timeoutMs: o.timeoutMs, log: o.log });
  }

  start(): Promise<void> {
    return this.thread.start();
  }

  close(): Promise<void> {
    return this.thread.close();
  }

  async decode(bytes: Buffer): Promise<PromptJob> {
    let writer: { id: number; text: string } | undefined;
    if (this.o.registry && isConfluentFramed(bytes)) {
      const { schemaId } = parseConfluentFrame(bytes);
      writer = { id: schemaId, text: await this.o.registry.schemaById(schemaId) };
    }
    try {
      return JSON.parse((await this.thread.decode(bytes, writer)) as string) as PromptJob;
    } catch (err) {
      if (err instanceof RemoteDecodeError && err.remoteName === 'SchemaError') throw new SchemaError(err.code as SchemaErrorCode, err.message, err.field);
      throw err;
    }
  }
}
