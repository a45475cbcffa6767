import type { HeadersObject } from '@nestjs/swagger';
import { MAX_LISTED_ENTITY_TAGS } from '../common/entity-tags';

/** Every answer about one order names its version: a strong ETag that changes with every change. */
export const ETAG_HEADER: HeadersObject = {
  ETag: {
    description:
      "The order's version (strong): send it in If-Match to change or cancel the order, or in If-None-Match to revalidate your copy",
    schema: { type: 'string', pattern: '^"[1-9][0-9]{0,8}"$', maxLength: 11 },
  },
};

export const IF_MATCH_HEADER = {
  name: 'If-Match',
  required: true,
  description:
    `The ETag you read, e.g. "3" (strong comparison: a weak W/ tag never matches). A list of up to ` +
    `${MAX_LISTED_ENTITY_TAGS} tags matches when one of them does.`,
  schema: { type: 'string' as const, maxLength: 1024 },
  // A new order's: the example runs as written against an order just created.
  example: '"1"',
};

/** Sent on an answer that replays the first answer to an earlier request with the same key. */
export const REPLAYED_HEADER: HeadersObject = {
  'Idempotent-Replayed': {
    description: 'Present and "true" when this is a replay',
    schema: { type: 'string', enum: ['true'] },
  },
};
