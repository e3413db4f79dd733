import { redactUrl } from '@sluice/schema';
import type { ConsumerConfig } from '../config';

/** What is safe to log of the config: secrets are dropped here as well as redacted by the logger. */
export function publicConfig(config: ConsumerConfig): Record<string, unknown> {
  const { sasl, ssl, schemaRegistryUrl, ...rest } = config;
  return {
    ...rest,
    schemaRegistryUrl: schemaRegistryUrl === undefined ? undefined : redactUrl(schemaRegistryUrl),
    export: rest.export.kind === 's3' && rest.export.endpoint ? { ...rest.export, endpoint: redactUrl(rest.export.endpoint) } : rest.export,
    sasl: sasl ? { mechanism: sasl.mechanism, username: sasl.username } : undefined,
    ssl: ssl ? { rejectUnauthorized: ssl.rejectUnauthorized, ca: !!ssl.ca, cert: !!ssl.cert, key: !!ssl.key } : undefined,
  };
}
