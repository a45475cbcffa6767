import { InvalidPreconditionError } from './errors';

/** One entity tag of an `If-Match` / `If-None-Match` list (RFC 9110 section 8.8.3). */
export interface EntityTag {
  weak: boolean;
  /** The opaque-tag with its quotes, as it appears in an `ETag` header: `"3"`. */
  quoted: string;
}

/** `*`, or the listed tags. */
export type EntityTagCondition = '*' | EntityTag[];

/** More tags than any client of one resource has a reason to send. */
export const MAX_LISTED_ENTITY_TAGS = 32;

/** One list member and its separator: `W/"..."` or `"..."`, then a comma or the end. */
const LIST_MEMBER = /[ \t]*(W\/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(,|$)/y;

/**
 * Parses a precondition header; undefined when absent. A header that is not `*` or a list of entity
 * tags (RFC 9110: `"..."` or `W/"..."`, comma-separated) is refused with 400, not ignored: a client
 * that believes it sent a precondition must not have its change applied without one.
 */
export function parseEntityTagCondition(
  value: string | string[] | undefined,
  header: string,
): EntityTagCondition | undefined {
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value.join(', ') : value).trim();
  if (text === '*') return '*';
  const tags: EntityTag[] = [];
  LIST_MEMBER.lastIndex = 0;
  while (LIST_MEMBER.lastIndex < text.length) {
    const match = LIST_MEMBER.exec(text);
    if (!match || tags.length === MAX_LISTED_ENTITY_TAGS)
      throw new InvalidPreconditionError(header);
    tags.push({ weak: match[1] !== undefined, quoted: match[2] });
    if (match[3] === '') break;
  }
  if (tags.length === 0) throw new InvalidPreconditionError(header);
  return tags;
}

/** `If-Match`'s strong comparison: a weak tag never matches. */
export function strongMatch(
  condition: EntityTagCondition,
  etag: string,
): boolean {
  return (
    condition === '*' ||
    condition.some((tag) => !tag.weak && tag.quoted === etag)
  );
}

/** `If-None-Match`'s weak comparison: `W/"3"` matches `"3"`. */
export function weakMatch(
  condition: EntityTagCondition,
  etag: string,
): boolean {
  return condition === '*' || condition.some((tag) => tag.quoted === etag);
}
