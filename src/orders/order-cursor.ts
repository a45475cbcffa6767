import { HttpStatus } from '@nestjs/common';
import { AppException, ErrorCode } from '../common/errors';

/** A position in the newest-first listing: the last row's (created_at, id). */
export interface OrderCursor {
  createdAt: Date;
  id: string;
}

/** Every order was created inside this range; a cursor outside it was not issued by this API. */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class InvalidCursorError extends AppException {
  constructor() {
    super(
      ErrorCode.INVALID_CURSOR,
      'cursor is not one this API issued',
      HttpStatus.BAD_REQUEST,
    );
  }
}

export function encodeCursor(cursor: OrderCursor): string {
  return Buffer.from(
    JSON.stringify([cursor.createdAt.toISOString(), cursor.id]),
  ).toString('base64url');
}

export function decodeCursor(text: string): OrderCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2)
    throw new InvalidCursorError();
  const [createdAt, id] = parsed as unknown[];
  if (typeof createdAt !== 'string' || typeof id !== 'string' || !UUID.test(id))
    throw new InvalidCursorError();
  const date = new Date(createdAt);
  const time = date.getTime();
  if (
    Number.isNaN(time) ||
    time < EARLIEST ||
    time > LATEST ||
    date.toISOString() !== createdAt
  )
    throw new InvalidCursorError();
  return { createdAt: date, id };
}
