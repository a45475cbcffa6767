/** Metadata key of `@Idempotent()` route options. */
export const IDEMPOTENT_ROUTE = 'idempotency:route';
/** The header carrying the key, unless `headerName` says otherwise. */
export const DEFAULT_HEADER_NAME = 'Idempotency-Key';
/** Header set on every replayed response. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';
