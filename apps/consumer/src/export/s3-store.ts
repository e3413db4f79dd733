import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectStore, StoredObject, TargetProblem } from './object-store';

export interface S3StoreOptions {
  bucket: string;
  /** Parts at or above this size go up as multipart uploads in pieces of this size (S3's minimum is 5 MiB). */
  multipartThreshold: number;
}

/** The start's bucket check gives up after this long: an endpoint that never answers must not hang the start. */
const CHECK_TIMEOUT_MS = 15_000;

const status = (err: unknown) => (err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined);

/**
 * The S3 export target. Credentials and region come from the client (the AWS default provider chain). Large parts
 * use @aws-sdk/lib-storage's Upload, which splits, uploads pieces in parallel, and aborts the multipart upload on failure.
 */
export class S3ObjectStore implements ObjectStore {
  readonly location: string;

  constructor(private readonly client: S3Client, private readonly options: S3StoreOptions) {
    this.location = `s3://${options.bucket}`;
  }

  async check(): Promise<TargetProblem | undefined> {
    const { bucket } = this.options;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
      return undefined;
    } catch (err) {
      const code = status(err);
      if (code === 404) return { part: 'bucket', message: `S3 bucket "${bucket}" does not exist` };
      if (code === 403) return { part: 'bucket', message: `S3 bucket "${bucket}": access denied (check the credentials and the bucket policy)` };
      const why = code === undefined ? (err as Error).message || (err as Error).name : `HTTP ${code}`;
      return { part: 'endpoint', message: `cannot reach S3 bucket "${bucket}": ${why}` };
    }
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.send(key, body, contentType, {});
  }

  /** One PUT below the multipart threshold, else a multipart upload; a condition applies to its completion. */
  private async send(key: string, body: Buffer, contentType: string, condition: { IfNoneMatch?: string; IfMatch?: string }): Promise<void> {
    const params = { Bucket: this.options.bucket, Key: key, Body: body, ContentType: contentType, ...condition };
    if (body.length < this.options.multipartThreshold) {
      await this.client.send(new PutObjectCommand(params));
      return;
    }
    await new Upload({ client: this.client, params, partSize: this.options.multipartThreshold, queueSize: 4, leavePartsOnError: false }).done();
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      const body = Buffer.from(await r.Body!.transformToByteArray());
      return { body, version: r.ETag ?? '' };
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
  }

  async holds(key: string, body: Buffer): Promise<boolean> {
    // A single PUT's ETag is the MD5 of its bytes, so a HEAD usually answers; otherwise (multipart, SSE-KMS) the bytes do.
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
      if (r.ContentLength !== body.length) return false;
      if (r.ETag === `"${createHash('md5').update(body).digest('hex')}"`) return true;
    } catch (err) {
      if (status(err) === 404) return false;
      throw err;
    }
    return (await this.get(key))?.body.equals(body) ?? false;
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async putIfUnchanged(key: string, body: Buffer, contentType: string, version: string | undefined): Promise<boolean> {
    const condition = version === undefined ? { IfNoneMatch: '*' } : { IfMatch: version };
    try {
      await this.send(key, body, contentType, condition);
      return true;
    } catch (err) {
      // 412: the object changed since we read it; 409: a concurrent conditional write won.
      if (status(err) === 412 || status(err) === 409) return false;
      throw err;
    }
  }
}
