/**
 * The media types a value may carry, in one place: what an event's `ct` field may hold (checked on both sides of the
 * stream), and which request Content-Types the API takes for a value and how it stores them. Values are UTF-8 text
 * (the event contract), so only textual media types, and `application/octet-stream` for bytes that are UTF-8.
 * `application/x-www-form-urlencoded` (what `curl -d` sends by default) is taken as the raw text, not decoded, as
 * Consul's and etcd's KV APIs do; like `text/plain` it is stored untyped.
 */

/** Longest content type a set event may carry (RFC 6838 allows 127 characters for each of type and subtype). */
export const CONTENT_TYPE_MAX_LENGTH = 255;
// type "/" subtype, both RFC 9110 tokens, lower case; no parameters.
const CONTENT_TYPE = /^[a-z0-9!#$%&'*+.^_`|~-]+\/[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** Returns why `ct` is not a valid event content type, or null when it is. */
export function contentTypeProblem(ct: unknown): string | null {
  if (typeof ct !== 'string') return 'content type is not a string';
  if (ct.length > CONTENT_TYPE_MAX_LENGTH)
    return `content type is ${ct.length} characters; the maximum is ${CONTENT_TYPE_MAX_LENGTH}`;
  if (!CONTENT_TYPE.test(ct)) return `content type ${JSON.stringify(ct)} is not a lower-case "type/subtype"`;
  return null;
}

const EXACT_TEXTUAL = new Set([
  'application/json',
  'application/xml',
  'application/yaml',
  'application/x-yaml',
  'application/javascript',
  'application/ecmascript',
  'application/x-ndjson',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
]);
/** Stored without a type: served as the default, text/plain. */
const UNTYPED = new Set(['text/plain', 'application/x-www-form-urlencoded']);
const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^(${TOKEN})/(${TOKEN})$`);
const PARAM = new RegExp(`^(${TOKEN})=(?:(${TOKEN})|"((?:[^"\\\\]|\\\\.)*)")$`);

export interface ValueMediaType {
  /** `type/subtype`, lower case. */
  essence: string;
  /** What the set event carries and Redis keeps; undefined = untyped. */
  stored: string | undefined;
}

function isTextual(essence: string): boolean {
  return (
    essence.startsWith('text/') ||
    EXACT_TEXTUAL.has(essence) ||
    (essence.startsWith('application/') && (essence.endsWith('+json') || essence.endsWith('+xml')))
  );
}

export function isJsonType(essence: string): boolean {
  return essence === 'application/json' || (essence.startsWith('application/') && essence.endsWith('+json'));
}

/**
 * Parses a request's Content-Type for a value: the media type and what is stored, or why it is not taken (the API
 * answers 415 with it).
 */
export function valueMediaTypeOf(header: string | undefined): ValueMediaType | { problem: string } {
  if (!header?.trim()) return { problem: 'no Content-Type' };
  const [head = '', ...params] = header.split(';').map((p) => p.trim());
  if (!MEDIA_TYPE.test(head))
    return { problem: `Content-Type ${JSON.stringify(header)} is not a media type` };
  const essence = head.toLowerCase();
  if (essence.length > CONTENT_TYPE_MAX_LENGTH)
    return { problem: `media type is over ${CONTENT_TYPE_MAX_LENGTH} characters` };
  if (!isTextual(essence)) return { problem: `${essence} is not a textual media type` };
  for (const p of params) {
    if (p === '') continue;
    const pm = PARAM.exec(p);
    if (!pm) return { problem: `Content-Type parameter ${JSON.stringify(p)} is malformed` };
    const charset = (pm[2] ?? pm[3] ?? '').toLowerCase();
    if (pm[1]?.toLowerCase() === 'charset' && !UTF8_CHARSETS.has(charset))
      return { problem: `charset ${charset} is not accepted: values are UTF-8` };
  }
  return { essence, stored: UNTYPED.has(essence) ? undefined : essence };
}
