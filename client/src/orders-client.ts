import {
  type ErrorDetail,
  networkErrorCode,
  OrdersApiError,
  OrdersNetworkError,
} from './errors.js';
import {
  fullJitterDelayMs,
  isRetryableStatus,
  rateLimitedWaitMs,
  retryAfterMs,
  type RetryReason,
  retryReasonOf,
} from './retry-policy.js';
import type {
  CreatedOrder,
  CreateOrderInput,
  Order,
  OrderPage,
  OrderPatch,
  UpdatedOrder,
  VersionedOrder,
} from './types.js';

/** What `onRetry` is told before each wait. */
export interface RetryEvent {
  /** The attempt that just failed (1 for the first). */
  attempt: number;
  /** How long the client waits before the next attempt. */
  delayMs: number;
  reason: RetryReason;
  /** The answer's status, when there was one. */
  status?: number;
  /** The answer's error code (`HTTP_<status>` when its body was not the service's envelope). */
  code?: string;
  method: string;
  path: string;
}

export interface OrdersClientOptions {
  /** The service's base URL, e.g. `https://orders.example.com`. */
  baseUrl: string;
  /** The bearer token, or a function returning it (called before every attempt, so it may refresh). */
  token: string | (() => string | Promise<string>);
  /** Retries after the first attempt. Default 5. */
  maxRetries?: number;
  /** One attempt's limit, answer included. Default 10 000 ms. */
  timeoutMs?: number;
  /** The whole call's limit, waits included: no retry starts past it. Default 60 000 ms. */
  maxElapsedMs?: number;
  /** First backoff ceiling; doubles per retry. Default 100 ms. */
  baseDelayMs?: number;
  /** Largest backoff ceiling. Default 5 000 ms. */
  maxDelayMs?: number;
  /** Largest wait a `Retry-After` may ask for. Default 30 000 ms. */
  maxRetryAfterMs?: number;
  /** A fetch implementation; default the global one. */
  fetch?: typeof fetch;
  /** Called before each retry's wait: log or count retries here. */
  onRetry?: (event: RetryEvent) => void;
  /** Waits between attempts (tests and instrumentation); default a timer that an abort cuts short. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1), for the jitter; default Math.random. */
  random?: () => number;
}

/** Per-call options. */
export interface CallOptions {
  /** Cancels the call, including its waits; a cancelled call is never retried. */
  signal?: AbortSignal;
}

export interface CreateOrderOptions extends CallOptions {
  /**
   * The order's idempotency key: generated once per call if absent, and reused on every retry.
   * Pass your own to survive more than one call, e.g. derived from a cart id, so that a page reload
   * or a restarted process asking again cannot make a second order.
   */
  idempotencyKey?: string;
}

export interface UpdateOrderOptions extends CallOptions {
  /** The ETag of the version you read (`getOrder(...).etag`): a stale one fails with 412. */
  ifMatch: string;
  /**
   * The change's idempotency key: generated once per call if absent, and reused on every retry, so
   * that a retry whose first answer was lost replays it instead of failing on its stale `ifMatch`.
   */
  idempotencyKey?: string;
}

export interface CancelOrderOptions extends CallOptions {
  /** Cancel only this version (412 if the order changed since); a cancelled order is answered as it is. */
  ifMatch?: string;
}

interface Request {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  contentType?: string;
  idempotencyKey?: string;
  ifMatch?: string;
  signal?: AbortSignal;
}

/**
 * The orders service, with retries that are safe by construction: every `createOrder` carries one
 * idempotency key, generated once and reused on every retry, so a retry can only ever replay the
 * order, never make a second one. See client/README.md for the retry table.
 *
 * @example
 * const client = new OrdersClient({ baseUrl: 'http://localhost:3000', token: process.env.TOKEN! });
 * const order = await client.createOrder({ currency: 'USD', items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }] });
 */
export class OrdersClient {
  private readonly baseUrl: string;
  private readonly settings: Required<
    Omit<OrdersClientOptions, 'onRetry' | 'baseUrl' | 'token'>
  >;

  constructor(private readonly options: OrdersClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.settings = {
      maxRetries: options.maxRetries ?? 5,
      timeoutMs: options.timeoutMs ?? 10_000,
      maxElapsedMs: options.maxElapsedMs ?? 60_000,
      baseDelayMs: options.baseDelayMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 5_000,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 30_000,
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      sleep: options.sleep ?? sleep,
      random: options.random ?? Math.random,
    };
  }

  /** Creates an order, retrying safely; resolves with the same order however many attempts it took. */
  async createOrder(
    input: CreateOrderInput,
    options: CreateOrderOptions = {},
  ): Promise<CreatedOrder> {
    const idempotencyKey = options.idempotencyKey ?? crypto.randomUUID();
    const { data, response } = await this.send<Order>({
      method: 'POST',
      path: '/orders',
      body: input,
      idempotencyKey,
      signal: options.signal,
    });
    return { ...versioned(data, response), replayed: isReplay(response) };
  }

  /** The order as it is now, with its `etag` for `updateOrder` and `cancelOrder`. */
  async getOrder(
    id: string,
    options: CallOptions = {},
  ): Promise<VersionedOrder> {
    const { data, response } = await this.send<Order>({
      method: 'GET',
      path: orderPath(id),
      signal: options.signal,
    });
    return versioned(data, response);
  }

  /**
   * Changes an order's note or metadata, if it is still at `ifMatch`. Retries are safe for the same
   * reason as creates: one idempotency key for the call, so a retry replays the first answer.
   *
   * @example
   * const order = await client.getOrder(id);
   * await client.updateOrder(id, { metadata: { crmId: 'C-1042' } }, { ifMatch: order.etag });
   */
  async updateOrder(
    id: string,
    patch: OrderPatch,
    options: UpdateOrderOptions,
  ): Promise<UpdatedOrder> {
    const { data, response } = await this.send<Order>({
      method: 'PATCH',
      path: orderPath(id),
      body: patch,
      contentType: 'application/merge-patch+json',
      ifMatch: options.ifMatch,
      idempotencyKey: options.idempotencyKey ?? crypto.randomUUID(),
      signal: options.signal,
    });
    return { ...versioned(data, response), replayed: isReplay(response) };
  }

  /** Cancels an order; cancelling again returns the same cancelled order. */
  async cancelOrder(
    id: string,
    options: CancelOrderOptions = {},
  ): Promise<VersionedOrder> {
    const { data, response } = await this.send<Order>({
      method: 'DELETE',
      path: orderPath(id),
      ifMatch: options.ifMatch,
      signal: options.signal,
    });
    return versioned(data, response);
  }

  /** One page of the caller's orders, newest first. */
  async listOrders(
    query: { limit?: number; cursor?: string } = {},
    options: CallOptions = {},
  ): Promise<OrderPage> {
    const params = new URLSearchParams();
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    const path = params.size ? `/orders?${params.toString()}` : '/orders';
    return (await this.send<OrderPage>({ method: 'GET', path, ...options }))
      .data;
  }

  /** Every order of the caller, newest first, fetching page after page as you iterate. */
  async *orders(
    query: { limit?: number } = {},
    options: CallOptions = {},
  ): AsyncGenerator<Order> {
    let cursor: string | undefined;
    do {
      const page = await this.listOrders({ ...query, cursor }, options);
      yield* page.data;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Sends a request, retrying it by the policy until it succeeds, fails for good, or runs out of budget. */
  private async send<T>(
    request: Request,
  ): Promise<{ data: T; response: Response }> {
    if (
      (request.method === 'POST' || request.method === 'PATCH') &&
      !request.idempotencyKey
    )
      throw new Error(
        `a ${request.method} is never sent without an idempotency key`,
      );
    const { maxRetries, maxElapsedMs } = this.settings;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      request.signal?.throwIfAborted();
      const outcome = await this.attempt<T>(request);
      if ('data' in outcome) return outcome;
      const { failure, status, waitMs } = outcome;
      const reason = retryReasonOf(failure);
      if (!reason || attempt > maxRetries) throw failure;
      const delayMs = waitMs ?? this.backoff(attempt);
      if (Date.now() - started + delayMs > maxElapsedMs) throw failure;
      this.options.onRetry?.({
        attempt,
        delayMs,
        reason,
        status,
        code: failure instanceof OrdersApiError ? failure.code : undefined,
        method: request.method,
        path: request.path,
      });
      await this.settings.sleep(delayMs, request.signal);
    }
  }

  /** One attempt: the parsed answer, or why it failed and how long the service asked us to wait. */
  private async attempt<T>(request: Request): Promise<
    | { data: T; response: Response }
    | {
        failure: OrdersApiError | OrdersNetworkError;
        status?: number;
        waitMs?: number;
      }
  > {
    const timeout = AbortSignal.timeout(this.settings.timeoutMs);
    const signal = request.signal
      ? AbortSignal.any([request.signal, timeout])
      : timeout;
    try {
      const response = await this.settings.fetch(
        `${this.baseUrl}${request.path}`,
        {
          method: request.method,
          headers: await this.headers(request),
          signal,
          body:
            request.body === undefined
              ? undefined
              : JSON.stringify(request.body),
        },
      );
      if (response.ok) return { data: (await response.json()) as T, response };
      const waitMs =
        response.status === 429
          ? rateLimitedWaitMs(response.headers, Date.now())
          : retryAfterMs(response.headers.get('retry-after'), Date.now());
      return {
        failure: await apiError(response),
        status: response.status,
        waitMs:
          waitMs === undefined
            ? undefined
            : Math.min(waitMs, this.settings.maxRetryAfterMs),
      };
    } catch (error) {
      // The caller's own cancellation is final; everything else is the network's doing.
      if (request.signal?.aborted) throw error;
      const timedOut = timeout.aborted;
      return {
        failure: new OrdersNetworkError(
          request.method,
          `${this.baseUrl}${request.path}`,
          timedOut ? 'ETIMEDOUT' : networkErrorCode(error),
          timedOut,
          {
            cause: error,
            detail: timedOut
              ? `no answer within ${this.settings.timeoutMs} ms`
              : undefined,
          },
        ),
      };
    }
  }

  private async headers(request: Request): Promise<Record<string, string>> {
    const token =
      typeof this.options.token === 'function'
        ? await this.options.token()
        : this.options.token;
    return {
      accept: 'application/json',
      authorization: `Bearer ${token}`,
      ...(request.body !== undefined && {
        'content-type': request.contentType ?? 'application/json',
      }),
      ...(request.idempotencyKey && {
        'idempotency-key': request.idempotencyKey,
      }),
      ...(request.ifMatch !== undefined && { 'if-match': request.ifMatch }),
    };
  }

  private backoff(attempt: number): number {
    const { baseDelayMs, maxDelayMs, random } = this.settings;
    return fullJitterDelayMs(attempt, baseDelayMs, maxDelayMs, random);
  }
}

function orderPath(id: string): string {
  return `/orders/${encodeURIComponent(id)}`;
}

function versioned(order: Order, response: Response): VersionedOrder {
  return { ...order, etag: response.headers.get('etag') ?? '' };
}

function isReplay(response: Response): boolean {
  return response.headers.get('idempotent-replayed') === 'true';
}

/** The error envelope of a non-2xx answer, or what can be said without one. */
async function apiError(response: Response): Promise<OrdersApiError> {
  const text = await response.text().catch(() => '');
  let envelope: { code?: string; message?: string; details?: ErrorDetail[] } =
    {};
  try {
    envelope =
      (JSON.parse(text) as { error?: typeof envelope }).error ?? envelope;
  } catch {
    // Not JSON (a proxy's error page): keep the status.
  }
  const code = envelope.code ?? `HTTP_${response.status}`;
  return new OrdersApiError(
    response.status,
    code,
    envelope.message ?? (text.slice(0, 200) || `HTTP ${response.status}`),
    envelope.details,
    response.headers.get('x-request-id') ?? undefined,
    isRetryableStatus(response.status, code),
  );
}

/** Waits `ms`, or less if `signal` aborts (then rejects with its reason). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
