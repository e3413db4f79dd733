import { localS3Config, s3ProxyProperties } from './s3proxy';

describe('S3Proxy settings', () => {
  it('serves a filesystem directory on loopback with the fixed local identity and SigV2/V4', () => {
    const lines = s3ProxyProperties(19000, '/data/blobs').trim().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        's3proxy.endpoint=http://127.0.0.1:19000',
        's3proxy.authorization=aws-v2-or-v4',
        's3proxy.identity=sluice',
        's3proxy.credential=sluice-secret',
        'jclouds.provider=filesystem-nio2',
        'jclouds.filesystem.basedir=/data/blobs',
      ]),
    );
    expect(lines.some((l) => l.startsWith('s3proxy.virtual-host'))).toBe(false);
  });

  it('describes the same endpoint and identity as S3Client settings', () => {
    expect(localS3Config(19000)).toEqual({
      endpoint: 'http://127.0.0.1:19000',
      region: 'us-east-1',
      credentials: { accessKeyId: 'sluice', secretAccessKey: 'sluice-secret' },
      forcePathStyle: true,
    });
  });
});
