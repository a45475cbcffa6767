/** Metadata key of `@Idempotent()` route options. */
export const IDEMPOTENT_ROUTE = 'idempotency:route';
/** Header set on every replayed response. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';
