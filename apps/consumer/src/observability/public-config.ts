import type { ConsumerConfig } from '../config';

/** What is safe to log of the config: secrets are dropped here as well as redacted by the logger. */
export function publicConfig(config: ConsumerConfig): Record<string, unknown> {
  const { sasl, ssl, ...rest } = config;
  return {
    ...rest,
    sasl: sasl ? { mechanism: sasl.mechanism, username: sasl.username } : undefined,
    ssl: ssl ? { rejectUnauthorized: ssl.rejectUnauthorized, ca: !!ssl.ca, cert: !!ssl.cert, key: !!ssl.key } : undefined,
  };
}
