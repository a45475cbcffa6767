import {
  findBodyProblem,
  hasUnstorableCharacter,
  MAX_BODY_ARRAY_LENGTH,
  MAX_BODY_DEPTH,
} from './body-shape';

const nested = (depth: number): unknown =>
  JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);

describe('findBodyProblem', () => {
  it('accepts an order and anything up to the limits', () => {
    expect(
      findBodyProblem({ items: [{ sku: 'A', quantity: 1 }], note: 'ünï 😀' }),
    ).toBeUndefined();
    expect(findBodyProblem(nested(MAX_BODY_DEPTH))).toBeUndefined();
    expect(
      findBodyProblem({ items: Array(MAX_BODY_ARRAY_LENGTH).fill({}) }),
    ).toBeUndefined();
    expect(findBodyProblem('text')).toBeUndefined();
  });

  it('refuses deeper bodies, even ones deep enough to overflow a recursive walk', () => {
    expect(findBodyProblem(nested(MAX_BODY_DEPTH + 1))?.message).toMatch(
      /nest deeper/,
    );
    expect(findBodyProblem(nested(100_000))).toBeDefined();
    expect(
      findBodyProblem({ a: { b: { c: {} } } }, { depth: 2, arrayLength: 9 }),
    ).toBeDefined();
  });

  it('refuses an array over the limit before looking at its entries', () => {
    expect(findBodyProblem({ items: Array(21_000).fill({}) })).toEqual({
      field: 'items',
      message: `must contain no more than ${MAX_BODY_ARRAY_LENGTH} elements`,
    });
  });

  it('refuses NUL and lone surrogates in values and keys, naming the field', () => {
    expect(findBodyProblem({ note: 'a\u0000b' })?.field).toBe('note');
    expect(findBodyProblem({ items: [{ sku: '\ud800' }] })?.field).toBe(
      'items.0.sku',
    );
    expect(findBodyProblem({ ['k\udfff']: 1 })).toBeDefined();
  });
});

describe('hasUnstorableCharacter', () => {
  it.each(['\u0000', 'a\ud800', '\udfffb', '\udc00\ud800'])(
    'finds %j',
    (text) => expect(hasUnstorableCharacter(text)).toBe(true),
  );
  it.each(['', 'plain', '😀', 'é\u00ff\uffff'])('accepts %j', (text) =>
    expect(hasUnstorableCharacter(text)).toBe(false),
  );
});
