import { isScanCursor, SCAN_CURSOR_MAX, SCAN_CURSOR_PATTERN } from '@kvflow/common/internal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** The listing cursor's rule (a Redis SCAN cursor: unsigned 64-bit) is the same in the code and in the schema. */
describe('list cursor rule', () => {
  const re = new RegExp(SCAN_CURSOR_PATTERN);
  it.each([
    ['0', true],
    ['7', true],
    ['18446744073709551615', true],
    ['18446744073709551616', false],
    ['99999999999999999999999', false],
    ['007', false],
    ['-1', false],
    ['', false],
    ['1e3', false],
  ])('%j -> %s', (cursor, ok) => {
    expect(isScanCursor(cursor)).toBe(ok);
    expect(re.test(cursor)).toBe(ok);
  });

  it('the schema pattern and the code agree on any decimal string', () => {
    const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 22 });
    const nearMax = fc
      .bigInt({ min: SCAN_CURSOR_MAX - 10n ** 12n, max: SCAN_CURSOR_MAX + 10n ** 12n })
      .map(String);
    fc.assert(
      fc.property(fc.oneof(digits, nearMax), (s) => {
        const expected = !/^0./.test(s) && BigInt(s) <= SCAN_CURSOR_MAX;
        expect(isScanCursor(s)).toBe(expected);
        expect(re.test(s)).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });
});
