// Object round trips through @aws-sdk/client-s3, unchanged, against the real local S3 server (SigV4, path-style).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { e2eEndpoints } from '../src/harness';

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

describe('S3 through the local server', () => {
  const s3 = new S3Client(e2eEndpoints().s3);
  const Bucket = `e2e-${randomUUID()}`;

  async function get(Key: string): Promise<Uint8Array> {
    const object = await s3.send(new GetObjectCommand({ Bucket, Key }));
    return (await object.Body?.transformToByteArray()) ?? new Uint8Array();
  }

  async function keys(Prefix: string): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix }));
    return (listed.Contents ?? []).map((o) => o.Key ?? '').sort();
  }

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket }));
  });

  afterAll(async () => {
    await s3.send(new DeleteBucketCommand({ Bucket }));
    s3.destroy();
  });

  it('puts, lists, gets and deletes objects with their content intact', async () => {
    const objects = new Map<string, Buffer>([
      ['runs/1/results.jsonl', Buffer.from('{"id":1,"text":"hello"}\n{"id":2,"text":"world"}\n')],
      ['runs/1/nested/blob.bin', randomBytes(64 * 1024)],
      ['runs/2/empty.txt', Buffer.alloc(0)],
    ]);
    for (const [Key, Body] of objects) {
      const put = await s3.send(new PutObjectCommand({ Bucket, Key, Body }));
      expect(put.ETag).toBe(`"${md5(Body)}"`);
    }

    expect(await keys('runs/')).toEqual([...objects.keys()].sort());
    expect(await keys('runs/1/')).toEqual(['runs/1/nested/blob.bin', 'runs/1/results.jsonl']);
    for (const [Key, Body] of objects) expect(sha256(await get(Key))).toBe(sha256(Body));

    for (const Key of objects.keys()) await s3.send(new DeleteObjectCommand({ Bucket, Key }));
    expect(await keys('runs/')).toEqual([]);
    await expect(get('runs/1/results.jsonl')).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('assembles a multipart upload above 5 MiB byte for byte', async () => {
    const Key = 'exports/large.bin';
    const data = randomBytes(12 * MiB + 12345);
    const partSize = 5 * MiB;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    expect(UploadId).toBeTruthy();

    const Parts = [];
    for (let offset = 0, PartNumber = 1; offset < data.length; offset += partSize, PartNumber += 1) {
      const Body = data.subarray(offset, offset + partSize);
      const part = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body }));
      expect(part.ETag).toBe(`"${md5(Body)}"`);
      Parts.push({ PartNumber, ETag: part.ETag });
    }
    expect(Parts).toHaveLength(3);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));

    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
    expect(head.ContentLength).toBe(data.length);
    const read = await get(Key);
    expect(read.length).toBe(data.length);
    expect(sha256(read)).toBe(sha256(data));

    await s3.send(new DeleteObjectCommand({ Bucket, Key }));
    expect(await keys('exports/')).toEqual([]);
  });
});
