/**
 * Event contract v1 (docs/architecture.md). One module validates on both sides: the producer before publishing, the
 * consumer after pulling. Validation is hand-written rather than schema-library based because it runs once per
 * event on the worker's hot path.
 */

import { randomUUID } from 'node:crypto';
import { contentTypeProblem } from './content-type.js';

export const EVENT_VERSION = 1;
export const KEY_MAX_BYTES = 512;
export const DEFAULT_VALUE_MAX_BYTES = 64 * 1024;

export type EventSource = 'api' | 'generator' | 'import' | 'cli' | 'replay';
const SOURCES: ReadonlySet<string> = new Set<EventSource>(['api', 'generator', 'import', 'cli', 'replay']);

interface EventBase {
  v: 1;
  id: string;
  key: string;
  /** Milliseconds since the epoch when the producer accepted the write. */
  ts: number;
  src: EventSource;
}
export interface SetEvent extends EventBase {
  op: 'set';
  value: string;
  /**
   * The value's media type as the writer declared it (`application/json`, `text/csv`, …): lower case, no
   * parameters. Optional: events without it (and every event written before it existed) are untyped values.
   */
  ct?: string;
}
export interface DeleteEvent extends EventBase {
  op: 'del';
}
export type KvEvent = SetEvent | DeleteEvent;

export type Decoded = { ok: true; event: KvEvent } | { ok: false; reason: string };

/**
 * The characters a key must not contain, as one regular-expression character class body: whitespace as
 * JavaScript's `\s` defines it (including Unicode spaces and U+FEFF) and control characters (`\p{Cc}`), spelled
 * out as ranges so the same class works in any regex dialect (the OpenAPI document's key pattern uses it).
 */
export const KEY_FORBIDDEN_CLASS =
  '\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
/** A whole key as a pattern (length in bytes is checked separately: no regex can count UTF-8 bytes). */
export const KEY_PATTERN = `^[^${KEY_FORBIDDEN_CLASS}]+$`;
const FORBIDDEN_KEY_CHARS = new RegExp(`[${KEY_FORBIDDEN_CLASS}]`, 'u');

/** True when every character is printable ASCII (0x21-0x7E): no whitespace, no control, one byte each. */
function isPrintableAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** Returns why `key` is not a valid key, or null when it is. */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return 'key is empty';
  // Fast path for the common case (runs once per event on the worker); the general checks below give the same
  // answer for such keys.
  if (key.length <= KEY_MAX_BYTES && isPrintableAscii(key)) return null;
  if (!key.isWellFormed()) return 'key is not valid UTF-8';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > KEY_MAX_BYTES) return `key is ${bytes} bytes; the maximum is ${KEY_MAX_BYTES}`;
  if (FORBIDDEN_KEY_CHARS.test(key)) return 'key contains whitespace or a control character';
  return null;
}

/** Returns why `value` is not a valid value, or null when it is. */
export function valueProblem(value: string, maxBytes: number): string | null {
  if (!value.isWellFormed()) return 'value is not valid UTF-8';
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short values need no byte count.
  if (value.length * 3 <= maxBytes) return null;
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > maxBytes) return `value is ${bytes} bytes; the maximum is ${maxBytes}`;
  return null;
}

/** What a writer says; `newEvent` adds the version, the id and the time. */
export type EventInput =
  | { op: 'set'; key: string; value: string; contentType?: string | undefined; src: EventSource }
  | { op: 'del'; key: string; src: EventSource };

/**
 * Builds a new event. The id doubles as the JetStream `Nats-Msg-Id`, so a retried publish of the same event is
 * deduplicated by the stream.
 */
export function newEvent(input: EventInput, ts = Date.now()): KvEvent {
  const id = randomUUID();
  if (input.op === 'del') return { v: EVENT_VERSION, id, op: 'del', key: input.key, ts, src: input.src };
  const event: SetEvent = {
    v: EVENT_VERSION,
    id,
    op: 'set',
    key: input.key,
    value: input.value,
    ts,
    src: input.src,
  };
  if (input.contentType !== undefined) event.ct = input.contentType;
  return event;
}

export function encodeEvent(event: KvEvent): Uint8Array {
  return Buffer.from(JSON.stringify(event), 'utf8');
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Decodes and validates one message payload. Never throws: a bad payload is a poison message, not a crash. */
export function decodeEvent(data: Uint8Array, valueMaxBytes: number): Decoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return { ok: false, reason: 'invalid JSON' };
  }
  return validateEvent(parsed, valueMaxBytes);
}

export function validateEvent(x: unknown, valueMaxBytes: number): Decoded {
  if (!isRecord(x)) return { ok: false, reason: 'event is not a JSON object' };
  if (x.v !== EVENT_VERSION) return { ok: false, reason: `unknown event version ${JSON.stringify(x.v)}` };
  const { id, op, key, value, ts, src, ct } = x;
  if (typeof id !== 'string' || id.length === 0 || id.length > 128) return { ok: false, reason: 'bad id' };
  if (typeof key !== 'string') return { ok: false, reason: 'key is not a string' };
  const badKey = keyProblem(key);
  if (badKey) return { ok: false, reason: badKey };
  if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) return { ok: false, reason: 'bad ts' };
  if (typeof src !== 'string' || !SOURCES.has(src))
    return { ok: false, reason: `unknown src ${JSON.stringify(src)}` };
  if (op === 'set') {
    if (typeof value !== 'string') return { ok: false, reason: 'set event without a string value' };
    const badValue = valueProblem(value, valueMaxBytes);
    if (badValue) return { ok: false, reason: badValue };
    const event: SetEvent = { v: 1, id, op, key, value, ts, src: src as EventSource };
    if (ct !== undefined) {
      const badType = contentTypeProblem(ct);
      if (badType) return { ok: false, reason: badType };
      event.ct = ct as string;
    }
    return { ok: true, event };
  }
  if (op === 'del') {
    if (value !== undefined) return { ok: false, reason: 'del event must not carry a value' };
    if (ct !== undefined) return { ok: false, reason: 'del event must not carry a content type' };
    return { ok: true, event: { v: 1, id, op, key, ts, src: src as EventSource } };
  }
  return { ok: false, reason: `unknown op ${JSON.stringify(op)}` };
}
