import { resolveConfig } from './config';
import { kafkaServerProperties, localKafkaTls, newClusterId } from './kafka';
import { tlsFiles } from './tls';

describe('kafkaServerProperties', () => {
  const config = resolveConfig({ kafkaPort: 19092, kafkaControllerPort: 19093, s3Port: 19000, dataDir: '/data' }, {});
  const lines = kafkaServerProperties(config, '/data/kafka', tlsFiles('/data/kafka/tls')).trim().split('\n');

  it('runs broker and controller in one process on loopback with a static single voter', () => {
    expect(lines).toEqual(
      expect.arrayContaining([
        'process.roles=broker,controller',
        'node.id=1',
        'controller.quorum.voters=1@127.0.0.1:19093',
        'listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,SSL://127.0.0.1:19094,MTLS://127.0.0.1:19095',
        'advertised.listeners=PLAINTEXT://127.0.0.1:19092,SSL://127.0.0.1:19094,MTLS://127.0.0.1:19095',
        'log.dirs=/data/kafka',
      ]),
    );
  });

  it('serves TLS on SSL and MTLS from PEM files, requiring a client certificate on MTLS only', () => {
    expect(lines).toEqual(
      expect.arrayContaining([
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,MTLS:SSL',
        'inter.broker.listener.name=PLAINTEXT',
        'ssl.keystore.type=PEM',
        'ssl.keystore.location=/data/kafka/tls/server-keystore.pem',
        'ssl.truststore.type=PEM',
        'ssl.truststore.location=/data/kafka/tls/ca.pem',
        'ssl.client.auth=none',
        'listener.name.mtls.ssl.client.auth=required',
      ]),
    );
  });

  it('gives internal topics one replica so a single broker can host them', () => {
    expect(lines).toEqual(expect.arrayContaining(['offsets.topic.replication.factor=1', 'transaction.state.log.replication.factor=1', 'transaction.state.log.min.isr=1']));
  });
});

describe('localKafkaTls', () => {
  it('names the TLS listeners next to the Kafka port and the PEM files under the data dir', () => {
    expect(localKafkaTls(resolveConfig({ kafkaPort: 19092, dataDir: '/data' }, {}))).toEqual({
      brokers: ['127.0.0.1:19094'],
      mtlsBrokers: ['127.0.0.1:19095'],
      ca: '/data/kafka/tls/ca.pem',
      cert: '/data/kafka/tls/client.pem',
      key: '/data/kafka/tls/client.key',
    });
  });
});

describe('newClusterId', () => {
  it('returns distinct 22-character URL-safe ids that cannot be mistaken for a flag', () => {
    const ids = Array.from({ length: 200 }, newClusterId);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
