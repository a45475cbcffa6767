import fc from 'fast-check';
import {
  InvalidIdempotencyKeyException,
  MissingIdempotencyKeyException,
} from './idempotency.exceptions';
import { parseIdempotencyKey } from './idempotency-key';

const VISIBLE = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) =>
  String.fromCharCode(0x21 + i),
);
/** Any valid key: 1..255 visible ASCII characters. */
const validKey = fc
  .array(fc.constantFrom(...VISIBLE), { minLength: 1, maxLength: 255 })
  .map((chars) => chars.join(''));
const quote = (key: string) => `"${key.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
const parse = (header: string) =>
  parseIdempotencyKey(header, 'Idempotency-Key');

describe('parseIdempotencyKey (properties)', () => {
  it('reads any valid bare key as itself', () => {
    fc.assert(
      fc.property(
        validKey.filter((key) => !key.startsWith('"')),
        (key) => expect(parse(key)).toBe(key),
      ),
      { numRuns: 1000 },
    );
  });

  it('reads the sf-string form of any valid key as the same key', () => {
    fc.assert(
      fc.property(validKey, (key) => expect(parse(quote(key))).toBe(key)),
      { numRuns: 1000 },
    );
  });

  it('refuses any key with a character outside 0x21-0x7E, or longer than 255', () => {
    fc.assert(
      fc.property(
        fc
          .string({ unit: 'binary', minLength: 1 })
          .filter((key) => !/^[\x21-\x7e]{1,255}$/.test(key)),
        (key) => {
          expect(() => parse(key)).toThrow(InvalidIdempotencyKeyException);
          expect(() => parse(quote(key))).toThrow(
            InvalidIdempotencyKeyException,
          );
        },
      ),
      { numRuns: 1000 },
    );
    expect(() => parse('k'.repeat(256))).toThrow(
      InvalidIdempotencyKeyException,
    );
  });

  it('answers any header value with a key or a 400, never anything else', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (header) => {
        try {
          expect(parse(header)).toMatch(/^[\x21-\x7e]{1,255}$/);
        } catch (error) {
          expect(
            error instanceof InvalidIdempotencyKeyException ||
              error instanceof MissingIdempotencyKeyException,
          ).toBe(true);
          expect((error as InvalidIdempotencyKeyException).getStatus()).toBe(
            400,
          );
        }
      }),
      { numRuns: 2000 },
    );
  });
});
