import { bodyDepthExceeds, MAX_BODY_DEPTH } from './body-depth';

const nested = (depth: number): unknown =>
  JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);

describe('bodyDepthExceeds', () => {
  it('accepts an order and anything up to the limit', () => {
    expect(
      bodyDepthExceeds({ items: [{ sku: 'A', quantity: 1 }], note: null }),
    ).toBe(false);
    expect(bodyDepthExceeds(nested(MAX_BODY_DEPTH))).toBe(false);
    expect(bodyDepthExceeds('text')).toBe(false);
  });

  it('refuses deeper bodies, even ones deep enough to overflow a recursive walk', () => {
    expect(bodyDepthExceeds(nested(MAX_BODY_DEPTH + 1))).toBe(true);
    expect(bodyDepthExceeds(nested(100_000))).toBe(true);
    expect(bodyDepthExceeds({ a: { b: { c: {} } } }, 2)).toBe(true);
  });
});
