// What a TLS failure talking to the brokers means for the user, read off Node's and OpenSSL's messages anywhere in
// kafkajs's chain of causes: the one reading both the worker and the CLI use to name the setting to fix.

/** The setting to fix (the worker's config key; the CLI's flag has the same name) and why. */
export interface KafkaTlsFailure {
  setting: 'kafkaSslCa' | 'kafkaSslCert' | 'kafkaSsl';
  reason: string;
}

const RULES: Array<[RegExp, KafkaTlsFailure]> = [
  [/self[- ]signed certificate|unable to (get|verify) (local )?(issuer )?certificate|unable to verify the first certificate|certificate (has expired|is not yet valid)|altname|does not match certificate/i,
    { setting: 'kafkaSslCa', reason: "the brokers' certificate is not trusted: give the CA that signed it" }],
  [/alert (bad certificate|certificate required|unknown ca|handshake failure)|certificate required/i,
    { setting: 'kafkaSslCert', reason: 'the brokers want a client certificate they trust (mutual TLS): give it and its key' }],
  [/wrong version number|packet length too long|unknown protocol|record layer failure/i,
    { setting: 'kafkaSsl', reason: 'TLS and the listener disagree: TLS to a plaintext listener, or plaintext to a TLS one' }],
];

/** An error and the errors under it, as kafkajs nests them (`cause`, or its own `originalError`), five deep at most. */
export function* kafkaErrorChain(err: unknown): Generator<{ name?: string; message?: string }> {
  for (let e = err as { name?: string; message?: string; cause?: unknown; originalError?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    yield e;
    e = (e.cause ?? e.originalError) as typeof e;
  }
}

export function kafkaTlsFailure(err: unknown): KafkaTlsFailure | undefined {
  for (const e of kafkaErrorChain(err)) {
    const found = RULES.find(([re]) => re.test(String(e.message ?? '')));
    if (found) return found[1];
  }
  return undefined;
}
