import { resolveConfig } from './config';
import { kafkaServerProperties, newClusterId } from './kafka';

describe('kafkaServerProperties', () => {
  const config = resolveConfig({ kafkaPort: 19092, kafkaControllerPort: 19093, s3Port: 19000 }, {});
  const lines = kafkaServerProperties(config, '/data/kafka').trim().split('\n');

  it('runs broker and controller in one process on loopback with a static single voter', () => {
    expect(lines).toEqual(
      expect.arrayContaining([
        'process.roles=broker,controller',
        'node.id=1',
        'controller.quorum.voters=1@127.0.0.1:19093',
        'listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093',
        'advertised.listeners=PLAINTEXT://127.0.0.1:19092',
        'log.dirs=/data/kafka',
      ]),
    );
  });

  it('gives internal topics one replica so a single broker can host them', () => {
    expect(lines).toEqual(expect.arrayContaining(['offsets.topic.replication.factor=1', 'transaction.state.log.replication.factor=1', 'transaction.state.log.min.isr=1']));
  });
});

describe('newClusterId', () => {
  it('returns distinct 22-character URL-safe ids that cannot be mistaken for a flag', () => {
    const ids = Array.from({ length: 200 }, newClusterId);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
