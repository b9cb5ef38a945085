/**
 * How a key is stored in Redis. Each user key is one Redis hash `kv:<key>` with field `s` (the stream sequence of
 * the last applied event, the fence), field `v` (the value; absent for a tombstone) and field `t` (the value's media
 * type; absent for untyped values and tombstones).
 */

export const KEY_PREFIX = 'kv:';
export const FIELD_SEQ = 's';
export const FIELD_VALUE = 'v';
export const FIELD_TYPE = 't';

export function redisKey(key: string): string {
  return KEY_PREFIX + key;
}
