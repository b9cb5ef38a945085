import { describe, expect, it } from 'vitest';
import { parseKvLine } from '../../cli/src/kv-file.js';

describe('bulk import line format', () => {
  it.each([
    ['k v', { kind: 'pair', key: 'k', value: 'v' }],
    ['k two  spaced words ', { kind: 'pair', key: 'k', value: 'two  spaced words ' }],
    ['k\tv', { kind: 'pair', key: 'k', value: 'v' }],
    ['k v\r', { kind: 'pair', key: 'k', value: 'v' }],
    ['k ', { kind: 'malformed', reason: 'no value: expected "<key> <value>"' }],
    ['', { kind: 'blank' }],
    ['   ', { kind: 'blank' }],
    ['lonely', { kind: 'malformed', reason: 'no value: expected "<key> <value>"' }],
    [' k v', { kind: 'malformed', reason: 'line starts with whitespace: expected "<key> <value>"' }],
    [`${'k'.repeat(513)} v`, { kind: 'malformed', reason: 'key is 513 bytes; the maximum is 512' }],
    ['k\u0001 v', { kind: 'malformed', reason: 'key contains whitespace or a control character' }],
    ['k 12345', { kind: 'malformed', reason: 'value is 5 bytes; the maximum is 4' }],
  ])('%j', (line, expected) => {
    expect(parseKvLine(line, line === 'k 12345' ? 4 : 1024)).toEqual(expected);
  });
});
