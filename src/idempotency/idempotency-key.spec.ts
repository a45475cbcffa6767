import {
  parseIdempotencyKey,
  unquoteStructuredString,
} from './idempotency-key';
import {
  InvalidIdempotencyKeyException,
  MissingIdempotencyKeyException,
} from './idempotency.exceptions';

const parse = (value: string | string[] | undefined) =>
  parseIdempotencyKey(value, 'Idempotency-Key');

describe('parseIdempotencyKey', () => {
  it('accepts 1..255 visible ASCII characters', () => {
    expect(parse('a')).toBe('a');
    expect(parse('!~'.repeat(127) + 'x')).toHaveLength(255);
  });

  it('reports a missing header distinctly from a bad one', () => {
    expect(() => parse(undefined)).toThrow(MissingIdempotencyKeyException);
    for (const bad of [
      '',
      'x'.repeat(256),
      'a b',
      'ü',
      'a\u0000',
      ['a', 'b'],
    ]) {
      expect(() => parse(bad)).toThrow(InvalidIdempotencyKeyException);
    }
  });

  it('reads the IETF sf-string form as the same key as the bare form', () => {
    expect(parse('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toBe(
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
    );
    expect(parse('"a\\"b\\\\c"')).toBe('a"b\\c');
  });

  it('refuses malformed quoted forms', () => {
    for (const bad of ['"', '"abc', '"a"b"', '"a\\nb"', '""']) {
      expect(() => parse(bad)).toThrow(InvalidIdempotencyKeyException);
    }
  });
});

describe('unquoteStructuredString', () => {
  it('allows spaces inside the quotes, as RFC 8941 does', () => {
    expect(unquoteStructuredString('"a b"')).toBe('a b');
  });
});
