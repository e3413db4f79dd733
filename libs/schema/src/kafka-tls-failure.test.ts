import { kafkaTlsFailure } from './kafka-tls-failure';

describe('kafkaTlsFailure', () => {
  it.each([
    ['self-signed certificate in certificate chain', 'kafkaSslCa'],
    ['unable to verify the first certificate', 'kafkaSslCa'],
    ["Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list", 'kafkaSslCa'],
    ['140:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 42', 'kafkaSslCert'],
    ['error:0A00010B:SSL routines::wrong version number', 'kafkaSsl'],
  ])('reads "%s" as a problem of %s', (message, setting) => {
    // kafkajs wraps the socket's error: the cause chain is searched.
    const err = Object.assign(new Error('Connection error: see cause'), { originalError: new Error(message) });
    expect(kafkaTlsFailure(err)?.setting).toBe(setting);
  });

  it('leaves other failures alone', () => {
    expect(kafkaTlsFailure(new Error('connect ECONNREFUSED 127.0.0.1:9092'))).toBeUndefined();
    expect(kafkaTlsFailure(undefined)).toBeUndefined();
  });
});
