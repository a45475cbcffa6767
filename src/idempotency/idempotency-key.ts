import {
  InvalidIdempotencyKeyException,
  MissingIdempotencyKeyException,
} from './idempotency.exceptions';

/** A key is 1..255 visible ASCII characters (0x21-0x7E). */
export const DEFAULT_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * Unwraps an RFC 8941 sf-string (`"..."`, with `\"` and `\\` escapes), as the IETF
 * Idempotency-Key draft sends it. Returns undefined when the quoted form is malformed.
 */
export function unquoteStructuredString(value: string): string | undefined {
  if (value.length < 2 || !value.endsWith('"')) return undefined;
  let result = '';
  for (let index = 1; index < value.length - 1; index++) {
    const char = value[index];
    if (char === '\\') {
      const escaped = value[++index];
      if (escaped !== '"' && escaped !== '\\') return undefined;
      result += escaped;
    } else if (char === '"' || char < ' ' || char > '~') {
      return undefined;
    } else {
      result += char;
    }
  }
  return result;
}

/**
 * Reads the key from the raw header value: missing -> MissingIdempotencyKeyException; quoted
 * (sf-string) form unwrapped; then checked against `pattern`.
 *
 * @example parseIdempotencyKey('"abc"', 'Idempotency-Key') === parseIdempotencyKey('abc', 'Idempotency-Key')
 */
export function parseIdempotencyKey(
  header: string | string[] | undefined,
  headerName: string,
  pattern: RegExp = DEFAULT_KEY_PATTERN,
): string {
  if (header === undefined)
    throw new MissingIdempotencyKeyException(headerName);
  if (Array.isArray(header))
    throw new InvalidIdempotencyKeyException(headerName, 'must be sent once');
  if (header === '')
    throw new InvalidIdempotencyKeyException(headerName, 'is empty');
  const key = header.startsWith('"') ? unquoteStructuredString(header) : header;
  if (key === undefined)
    throw new InvalidIdempotencyKeyException(
      headerName,
      'is not a valid quoted string',
    );
  if (!pattern.test(key)) {
    throw new InvalidIdempotencyKeyException(
      headerName,
      'must be 1 to 255 visible ASCII characters (0x21-0x7E)',
    );
  }
  return key;
}
