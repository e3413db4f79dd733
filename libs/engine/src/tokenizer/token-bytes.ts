// The raw bytes each token of a vocabulary stands for, read from tokenizer.json's decoder: a token may hold part of a
// UTF-8 character, which its decoded text can only show as U+FFFD (OpenAI's logprobs give these bytes).

/** How the vocabulary's token strings map to bytes. */
export type TokenBytesRule = 'byte-level' | 'sentencepiece' | 'text';

interface DecoderJson {
  type?: string;
  decoders?: DecoderJson[];
  pattern?: { String?: string };
}

/** ByteLevel (GPT-2, Llama 3) spells bytes as printable characters; byte fallback (Llama 2, Mistral) as <0xNN> and ▁. */
export function tokenBytesRule(decoder: DecoderJson | null | undefined): TokenBytesRule {
  const parts = decoder?.type === 'Sequence' ? (decoder.decoders ?? []) : decoder ? [decoder] : [];
  if (parts.some((d) => d.type === 'ByteLevel')) return 'byte-level';
  if (parts.some((d) => d.type === 'ByteFallback' || d.type === 'Metaspace' || (d.type === 'Replace' && d.pattern?.String === '\u2581'))) return 'sentencepiece';
  return 'text';
}

// GPT-2's table: printable bytes stand for themselves, the other 68 take the code points from 256 up, in byte order.
let byteLevelTable: Map<number, number> | undefined;
function byteOfChar(): Map<number, number> {
  if (byteLevelTable) return byteLevelTable;
  const table = new Map<number, number>();
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) table.set(printable(b) ? b : next++, b);
  return (byteLevelTable = table);
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const encoder = new TextEncoder();

/** The bytes of one token string under `rule`; an `added` token (tokenizer.json's added_tokens) is its own text. */
export function tokenBytes(token: string, rule: TokenBytesRule, added: boolean): Uint8Array {
  if (added || rule === 'text') return encoder.encode(token);
  if (rule === 'sentencepiece') {
    const byte = BYTE_TOKEN.exec(token);
    return byte ? Uint8Array.of(parseInt(byte[1], 16)) : encoder.encode(token.replace(/\u2581/g, ' '));
  }
  const table = byteOfChar();
  const out: number[] = [];
  for (const ch of token) {
    const b = table.get(ch.codePointAt(0)!);
    // A character outside the byte alphabet (an added token's text): its own UTF-8.
    if (b === undefined) out.push(...encoder.encode(ch));
    else out.push(b);
  }
  return Uint8Array.from(out);
}
