import { CONTENT_TYPE_MAX_LENGTH } from '@kvflow/common';
import { ApiError } from './errors.js';

/**
 * Which request media types a value may be sent as, and what is stored. Values are UTF-8 text (the event
 * contract), so the API takes textual media types, and `application/octet-stream` for bytes that are UTF-8.
 * `application/x-www-form-urlencoded` (what `curl -d` sends by default) is taken as the raw text, not decoded,
 * as Consul's and etcd's KV APIs do; like `text/plain` it is stored untyped and served as text/plain.
 */

/** Media types listed for the request body in the OpenAPI document (the rule below takes more). */
export const DOCUMENTED_VALUE_TYPES = ['text/plain', 'application/json', 'application/octet-stream'] as const;
/**
 * And for GET's answer: untyped values are text/plain; every stored type falls in one of the two ranges (a JSON
 * value is served as application/json, …).
 */
export const SERVED_VALUE_TYPES = ['text/plain', 'text/*', 'application/*'] as const;

export const TEXTUAL_TYPES_DESCRIPTION =
  'Content-Type: text/*, application/json and application/*+json (the value must be valid JSON), ' +
  'application/xml and application/*+xml, application/yaml, application/javascript, application/x-ndjson, ' +
  'application/octet-stream (the bytes must be UTF-8), or application/x-www-form-urlencoded (curl -d: the raw ' +
  'text is the value); charset, if given, must be utf-8 or us-ascii. The media type is stored with the value ' +
  'and GET answers with it; text/plain and form posts are stored untyped (served as text/plain).';

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

const unsupported = (why: string) =>
  new ApiError(
    'unsupported_media_type',
    `${why}; send the value as UTF-8 text (text/plain, application/json, …)`,
  );

/** Parses and checks a request's Content-Type for a value; throws 415 `unsupported_media_type`. */
export function valueMediaType(header: string | undefined): ValueMediaType {
  if (!header?.trim()) throw unsupported('no Content-Type');
  const [head = '', ...params] = header.split(';').map((p) => p.trim());
  const m = MEDIA_TYPE.exec(head);
  if (!m) throw unsupported(`Content-Type ${JSON.stringify(header)} is not a media type`);
  const essence = head.toLowerCase();
  if (essence.length > CONTENT_TYPE_MAX_LENGTH)
    throw unsupported(`media type is over ${CONTENT_TYPE_MAX_LENGTH} characters`);
  if (!isTextual(essence)) throw unsupported(`${essence} is not a textual media type`);
  for (const p of params) {
    if (p === '') continue;
    const pm = PARAM.exec(p);
    if (!pm) throw unsupported(`Content-Type parameter ${JSON.stringify(p)} is malformed`);
    const charset = (pm[2] ?? pm[3] ?? '').toLowerCase();
    if (pm[1]?.toLowerCase() === 'charset' && !UTF8_CHARSETS.has(charset))
      throw unsupported(`charset ${charset} is not accepted: values are UTF-8`);
  }
  return { essence, stored: UNTYPED.has(essence) ? undefined : essence };
}

/** The Content-Type a stored value is served with. */
export function servedContentType(stored: string | null): string {
  if (stored === null) return 'text/plain; charset=utf-8';
  return stored.startsWith('text/') ? `${stored}; charset=utf-8` : stored;
}
