/** Deeper JSON than any order needs; enough to refuse bodies built to exhaust the stack. */
export const MAX_BODY_DEPTH = 32;

/**
 * How deeply a parsed JSON body nests, counted without recursion (so that the count itself cannot
 * overflow the stack), stopping as soon as it passes `limit`.
 */
export function bodyDepthExceeds(
  body: unknown,
  limit = MAX_BODY_DEPTH,
): boolean {
  const stack: [unknown, number][] = [[body, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return false;
}
