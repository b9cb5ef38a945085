import {
  CONTENT_TYPE_MAX_LENGTH,
  DEFAULT_VALUE_MAX_BYTES,
  decodeEvent,
  encodeEvent,
  newEvent,
  toFencedWrite,
} from '@kvflow/common';
import { describe, expect, it } from 'vitest';

/** Event contract v1, extended compatibly: a set event may carry the value's media type in `ct`. */

const bytes = (x: unknown) => Buffer.from(JSON.stringify(x));
const good = { v: 1, id: 'e1', op: 'set', key: 'k', value: '{}', ts: 1, src: 'api' };

describe('the optional content type of a set event', () => {
  it('round-trips, and reaches the fenced write', () => {
    const event = newEvent({ op: 'set', key: 'k', value: '{}', contentType: 'application/json', src: 'api' });
    expect(event).toMatchObject({ op: 'set', ct: 'application/json' });
    const decoded = decodeEvent(encodeEvent(event), DEFAULT_VALUE_MAX_BYTES);
    expect(decoded).toEqual({ ok: true, event });
    if (decoded.ok)
      expect(toFencedWrite(decoded.event, 7)).toMatchObject({ contentType: 'application/json' });
  });

  it('keeps events without it valid, and does not add it when absent', () => {
    expect(decodeEvent(bytes(good), DEFAULT_VALUE_MAX_BYTES)).toEqual({ ok: true, event: good });
    expect('ct' in newEvent({ op: 'set', key: 'k', value: 'v', src: 'api' })).toBe(false);
  });

  it.each([
    ['not a string', 5],
    ['empty', ''],
    ['no subtype', 'text'],
    ['parameters', 'text/plain; charset=utf-8'],
    ['upper case', 'Text/Plain'],
    ['too long', `application/${'x'.repeat(CONTENT_TYPE_MAX_LENGTH)}`],
  ])('treats a content type that is %s as poison', (_what, ct) => {
    const decoded = decodeEvent(bytes({ ...good, ct }), DEFAULT_VALUE_MAX_BYTES);
    expect(decoded).toMatchObject({ ok: false, reason: expect.stringContaining('content type') });
  });

  it('refuses a content type on a delete', () => {
    const decoded = decodeEvent(bytes({ ...good, op: 'del', value: undefined, ct: 'text/plain' }), 100);
    expect(decoded).toMatchObject({ ok: false, reason: expect.stringContaining('content type') });
  });
});
