import { readPubAck } from '@kvflow/common/internal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const bytes = (s: string) => new Uint8Array(Buffer.from(s));
/** What the publisher takes from an acknowledgement, read the slow, obvious way. */
const viaJson = (s: string) => {
  const a = JSON.parse(s);
  return { seq: a.seq, duplicate: a.duplicate === true, error: a.error };
};
const taken = (s: string) => {
  const a = readPubAck(bytes(s));
  return { seq: a.seq, duplicate: a.duplicate === true, error: a.error };
};

describe('stream acknowledgements', () => {
  it('reads the two shapes of a stored message from the bytes', () => {
    expect(readPubAck(bytes('{"stream":"KV","seq":42}'))).toEqual({ seq: 42, duplicate: false });
    expect(readPubAck(bytes('{"stream":"KV","seq":7,"duplicate":true}'))).toEqual({
      seq: 7,
      duplicate: true,
    });
  });

  it('reads every other answer as JSON: errors, domains, unknown fields', () => {
    const error =
      '{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"KV","seq":0}';
    expect(readPubAck(bytes(error)).error?.err_code).toBe(10077);
    expect(readPubAck(bytes('{"stream":"KV","domain":"hub","seq":3}')).seq).toBe(3);
    expect(readPubAck(bytes('{"stream":"KV","seq":3,"duplicate":false}')).duplicate).toBe(false);
    expect(readPubAck(bytes('{"stream":"KV","seq":3,"val":"1"}')).seq).toBe(3);
    expect(readPubAck(bytes('{"stream":"K\\"V","seq":9}')).stream).toBe('K"V');
    expect(() => readPubAck(bytes('{"stream":"KV","seq":'))).toThrow(SyntaxError);
    expect(() => readPubAck(bytes(''))).toThrow(SyntaxError);
  });

  it('agrees with JSON.parse on any acknowledgement the server can write', () => {
    const ack = fc.record(
      {
        stream: fc.string({ minLength: 1, maxLength: 32 }),
        seq: fc.maxSafeInteger().filter((n) => n >= 0),
        domain: fc.string({ maxLength: 8 }),
        duplicate: fc.boolean(),
      },
      { requiredKeys: ['stream', 'seq'] },
    );
    fc.assert(
      fc.property(ack, (a) => {
        const text = JSON.stringify(a);
        expect(taken(text)).toEqual(viaJson(text));
      }),
      { numRuns: 2_000 },
    );
  });
});
