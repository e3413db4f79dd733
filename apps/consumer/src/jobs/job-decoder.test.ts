import { DEFAULT_DECODE_LIMITS, frameConfluent, PromptJobSchemas, RecordCodec, recordFromPlain, SchemaError, SchemaRegistryClient } from '@sluice/schema';
import { hugeArrayJob, hugeMapJob } from '../../test/poison-records';
import { JobDecoder } from './job-decoder';

const json = (o: Record<string, unknown>) => Buffer.from(JSON.stringify({ job_id: 'j1', batch_id: 'b1', prompt: 'hi', ...o }));
const decoders: JobDecoder[] = [];
async function started(registry?: SchemaRegistryClient): Promise<JobDecoder> {
  const d = new JobDecoder({ registry, limits: { ...DEFAULT_DECODE_LIMITS, maxMetadataEntries: 2 }, timeoutMs: 5000 });
  decoders.push(d);
  await d.start();
  return d;
}
afterEach(async () => {
  await Promise.all(decoders.splice(0).map((d) => d.close()));
});

/** A registry that knows schema id 7 (PromptJob v2); `down` makes every request fail as a network error would. */
function registry(state: { down: boolean; requests: number }): SchemaRegistryClient {
  const fetch = (async (url: string) => {
    state.requests++;
    if (state.down) throw new TypeError('fetch failed');
    if (!String(url).endsWith('/schemas/ids/7')) return new Response('{}', { status: 404 });
    return new Response(JSON.stringify({ schema: JSON.stringify(PromptJobSchemas.latest.json) }));
  }) as typeof globalThis.fetch;
  return new SchemaRegistryClient({ url: 'http://registry.invalid', fetch });
}

describe('JobDecoder', () => {
  it('decodes JSON and single-object jobs on its thread, and brings schema errors back as SchemaError with code and field', async () => {
    const d = await started();
    expect(await d.decode(json({ metadata: { a: 'b' } }))).toMatchObject({ job_id: 'j1', prompt: 'hi', metadata: { a: 'b' } });
    const avro = await new RecordCodec(PromptJobSchemas).encode({ job_id: 'j2', batch_id: 'b1', prompt: 'hey', metadata: {}, created_at: 5 });
    expect(await d.decode(avro)).toMatchObject({ job_id: 'j2', prompt: 'hey', created_at: 5 });
    const err = await d.decode(json({ sampling: { top_p: 0 } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaError);
    expect(err).toMatchObject({ code: 'INVALID_FIELD', field: 'sampling.top_p' });
  });

  it('applies the limits it was given', async () => {
    const d = await started();
    await expect(d.decode(json({ metadata: { a: '1', b: '2', c: '3' } }))).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED', message: expect.stringMatching(/maxMetadataEntries/) });
  });

  it('rejects the forged block counts without hanging or running out of memory', async () => {
    const d = await started();
    await expect(d.decode(hugeMapJob())).rejects.toBeInstanceOf(SchemaError);
    await expect(d.decode(hugeArrayJob())).rejects.toBeInstanceOf(SchemaError);
    expect(await d.decode(json({}))).toMatchObject({ job_id: 'j1' });
  });

  it("fetches a Confluent record's writer schema on the main thread, once per id, and decodes it on the thread", async () => {
    const state = { down: false, requests: 0 };
    const d = await started(registry(state));
    const body = PromptJobSchemas.latest.type.toBuffer(recordFromPlain(PromptJobSchemas, { job_id: 'c1', batch_id: 'b1', prompt: 'framed' }));
    expect(await d.decode(frameConfluent(7, body))).toMatchObject({ job_id: 'c1', prompt: 'framed' });
    expect(await d.decode(frameConfluent(7, body))).toMatchObject({ job_id: 'c1' });
    expect(state.requests).toBe(1);
    await expect(d.decode(frameConfluent(8, body))).rejects.toMatchObject({ code: 'UNKNOWN_SCHEMA_ID' });
  });

  it('lets a registry outage through as REGISTRY_ERROR (a transient failure), and reads Confluent bytes without a registry as REGISTRY_REQUIRED', async () => {
    const down = await started(registry({ down: true, requests: 0 }));
    await expect(down.decode(frameConfluent(7, Buffer.from([2, 0x61])))).rejects.toMatchObject({ code: 'REGISTRY_ERROR' });
    const none = await started();
    await expect(none.decode(frameConfluent(7, Buffer.from([2, 0x61])))).rejects.toMatchObject({ code: 'REGISTRY_REQUIRED' });
  });
});
