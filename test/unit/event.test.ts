import {
  DEFAULT_VALUE_MAX_BYTES,
  decodeEvent,
  encodeEvent,
  KEY_MAX_BYTES,
  keyProblem,
  valueProblem,
} from '@kvflow/common';
import { describe, expect, it } from 'vitest';

const bytes = (x: unknown) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x));
const good = { v: 1, id: 'e1', op: 'set', key: 'k', value: 'hello', ts: 1, src: 'api' };

describe('keys', () => {
  it.each([
    ['', 'key is empty'],
    ['a b', 'whitespace'],
    ['a\tb', 'whitespace'],
    ['a\u0007b', 'control character'],
    ['a\u00a0b', 'whitespace'],
    ['x'.repeat(KEY_MAX_BYTES + 1), 'maximum is 512'],
    ['é'.repeat(257), 'key is 514 bytes'],
    ['\ud800', 'not valid UTF-8'],
  ])('rejects %j', (key, reason) => {
    expect(keyProblem(key)).toContain(reason);
  });

  it.each(['k', 'user:42/profile', 'ключ', '🔑', 'x'.repeat(KEY_MAX_BYTES)])('accepts %j', (key) => {
    expect(keyProblem(key)).toBeNull();
  });
});

describe('event contract v1', () => {
  it('round-trips a set and a delete', () => {
    const del = { v: 1, id: 'e2', op: 'del', key: 'k', ts: 2, src: 'generator' } as const;
    expect(decodeEvent(encodeEvent(good as never), DEFAULT_VALUE_MAX_BYTES)).toEqual({
      ok: true,
      event: good,
    });
    expect(decodeEvent(encodeEvent(del), DEFAULT_VALUE_MAX_BYTES)).toEqual({ ok: true, event: del });
  });

  it.each([
    ['not json', '{"v":1', 'invalid JSON'],
    ['an array', [], 'not a JSON object'],
    ['an unknown version', { ...good, v: 2 }, 'unknown event version 2'],
    ['no version', { ...good, v: undefined }, 'unknown event version'],
    ['an unknown op', { ...good, op: 'incr' }, 'unknown op "incr"'],
    ['a set without value', { ...good, value: undefined }, 'without a string value'],
    ['a delete with a value', { ...good, op: 'del' }, 'must not carry a value'],
    ['a bad key', { ...good, key: 'a b' }, 'whitespace'],
    ['a bad ts', { ...good, ts: 'yesterday' }, 'bad ts'],
    ['an unknown source', { ...good, src: 'mars' }, 'unknown src'],
    ['an empty id', { ...good, id: '' }, 'bad id'],
  ])('treats %s as poison', (_what, payload, reason) => {
    const decoded = decodeEvent(bytes(payload), DEFAULT_VALUE_MAX_BYTES);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toContain(reason);
  });

  it('enforces the configured value limit in bytes', () => {
    const value = 'é'.repeat(6); // 12 bytes
    expect(decodeEvent(bytes({ ...good, value }), 12).ok).toBe(true);
    const over = decodeEvent(bytes({ ...good, value }), 11);
    expect(over).toEqual({ ok: false, reason: 'value is 12 bytes; the maximum is 11' });
  });
});

describe('key and value checks: fast paths agree with the general rules', () => {
  it('gives the same answer as the general rules for random keys and values', async () => {
    const fc = (await import('fast-check')).default;
    const general = (key: string) => {
      if (key.length === 0) return 'key is empty';
      if (!key.isWellFormed()) return 'key is not valid UTF-8';
      const bytes = Buffer.byteLength(key, 'utf8');
      if (bytes > KEY_MAX_BYTES) return `key is ${bytes} bytes; the maximum is ${KEY_MAX_BYTES}`;
      if (/[\s\p{Cc}]/u.test(key)) return 'key contains whitespace or a control character';
      return null;
    };
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 600 }), fc.string({ unit: 'binary', maxLength: 300 })),
        (key) => {
          expect(keyProblem(key)).toBe(general(key));
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.integer({ min: 1, max: 120 }),
        (value, max) => {
          const bytes = Buffer.byteLength(value, 'utf8');
          const expected = !value.isWellFormed()
            ? 'value is not valid UTF-8'
            : bytes > max
              ? `value is ${bytes} bytes; the maximum is ${max}`
              : null;
          expect(valueProblem(value, max)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
