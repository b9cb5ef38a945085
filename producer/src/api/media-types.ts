import { type ValueMediaType, valueMediaTypeOf } from '@kvflow/common';
import { ApiError } from './errors.js';

// The value's media types as the OpenAPI document shows them, and the 415 answer; the rules are common's
// (event/content-type.ts).

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

const unsupported = (why: string) =>
  new ApiError(
    'unsupported_media_type',
    `${why}; send the value as UTF-8 text (text/plain, application/json, …)`,
  );

/** Parses and checks a request's Content-Type for a value; throws 415 `unsupported_media_type`. */
export function valueMediaType(header: string | undefined): ValueMediaType {
  const type = valueMediaTypeOf(header);
  if ('problem' in type) throw unsupported(type.problem);
  return type;
}

/** The Content-Type a stored value is served with. */
export function servedContentType(stored: string | null): string {
  if (stored === null) return 'text/plain; charset=utf-8';
  return stored.startsWith('text/') ? `${stored}; charset=utf-8` : stored;
}
