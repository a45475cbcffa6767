import type { ErrorDetail } from './errors';

/** Deeper JSON than any order needs; enough to refuse bodies built to exhaust the stack. */
export const MAX_BODY_DEPTH = 32;
/**
 * No array in a request body may hold more entries: the largest the API accepts is an order's 100
 * items. Checked before any validator runs, so that 21,000 empty items cost one walk, not 21,000
 * objects' worth of validation messages.
 */
export const MAX_BODY_ARRAY_LENGTH = 100;

/** NUL, which Postgres text cannot hold, or a lone UTF-16 surrogate, which no UTF-8 store keeps as sent. */
const UNSTORABLE_CHARACTER =
  // eslint-disable-next-line no-control-regex -- NUL is what it looks for
  /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when `text` holds a character no layer below can store faithfully (NUL, a lone surrogate). */
export function hasUnstorableCharacter(text: string): boolean {
  return UNSTORABLE_CHARACTER.test(text);
}

/**
 * The first reason a parsed JSON body is refused before validation: nested deeper than `MAX_BODY_DEPTH`,
 * an array longer than `MAX_BODY_ARRAY_LENGTH`, or a string (value or key) with NUL or a lone
 * surrogate. Walked without recursion (so the walk itself cannot overflow the stack), stopping at the
 * first problem.
 */
export function findBodyProblem(
  body: unknown,
  limits = { depth: MAX_BODY_DEPTH, arrayLength: MAX_BODY_ARRAY_LENGTH },
): ErrorDetail | undefined {
  const stack: [unknown, number, string][] = [[body, 0, '']];
  while (stack.length > 0) {
    const [value, depth, field] = stack.pop()!;
    if (typeof value === 'string') {
      if (hasUnstorableCharacter(value))
        return {
          field: field || 'body',
          message: 'must not contain NUL or lone surrogates',
        };
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= limits.depth)
      return {
        field: 'body',
        message: `must not nest deeper than ${limits.depth} levels`,
      };
    if (Array.isArray(value)) {
      if (value.length > limits.arrayLength)
        return {
          field: field || 'body',
          message: `must contain no more than ${limits.arrayLength} elements`,
        };
      value.forEach((child, i) =>
        stack.push([child, depth + 1, childPath(field, String(i))]),
      );
      continue;
    }
    for (const [key, child] of Object.entries(value)) {
      if (hasUnstorableCharacter(key))
        return {
          field: field || 'body',
          message: 'keys must not contain NUL or lone surrogates',
        };
      stack.push([child, depth + 1, childPath(field, key.slice(0, 64))]);
    }
  }
  return undefined;
}

/** Field paths as the validator names them: `items.0.sku`. */
function childPath(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}
