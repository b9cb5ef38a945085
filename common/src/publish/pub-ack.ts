/** What the stream answers to a publish: the JSON of nats-server's `JSPubAckResponse`. */
export interface PubAckJson {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code: number; err_code: number; description: string };
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CLOSE = 0x7d;
const ZERO = 0x30;
const NINE = 0x39;
const STREAM_KEY = Buffer.from('{"stream":"');
const SEQ_KEY = Buffer.from(',"seq":');
const DUPLICATE_TRUE = Buffer.from(',"duplicate":true}');

function startsWithAt(data: Uint8Array, at: number, bytes: Uint8Array): boolean {
  if (at + bytes.length > data.length) return false;
  for (let i = 0; i < bytes.length; i++) if (data[at + i] !== bytes[i]) return false;
  return true;
}

/**
 * Reads an acknowledgement. The server writes a stored message's as `{"stream":"S","seq":N}`, with
 * `,"duplicate":true` before the brace for a duplicate: those two shapes are read from the bytes, without a string
 * or an object per message (the publisher gets one per event). Anything else (an error, a domain, fields of newer
 * servers) is parsed as JSON; invalid JSON throws as JSON.parse does.
 */
export function readPubAck(data: Uint8Array): PubAckJson {
  return fastPubAck(data) ?? (JSON.parse(Buffer.from(data).toString('utf8')) as PubAckJson);
}

function fastPubAck(data: Uint8Array): PubAckJson | null {
  if (!startsWithAt(data, 0, STREAM_KEY)) return null;
  let i = STREAM_KEY.length;
  while (i < data.length && data[i] !== QUOTE) {
    // A stream name has no quote, backslash or control character; anything escaped takes the JSON path.
    if ((data[i] as number) < 0x20 || data[i] === 0x5c) return null;
    i++;
  }
  if (!startsWithAt(data, i + 1, SEQ_KEY)) return null;
  i += 1 + SEQ_KEY.length;
  const digitsFrom = i;
  let seq = 0;
  while (i < data.length && (data[i] as number) >= ZERO && (data[i] as number) <= NINE) {
    seq = seq * 10 + ((data[i] as number) - ZERO);
    i++;
  }
  if (i === digitsFrom || i - digitsFrom > 15) return null; // none, or beyond exact integers
  if (i === data.length - 1 && data[i] === CLOSE) return { seq, duplicate: false };
  if (data[i] === COMMA && startsWithAt(data, i, DUPLICATE_TRUE) && i + DUPLICATE_TRUE.length === data.length)
    return { seq, duplicate: true };
  return null;
}
