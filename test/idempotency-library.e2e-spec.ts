import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Module,
  Post,
  Res,
  INestApplication,
} from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { createClient, RESP_TYPES } from 'redis';
import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  IDEMPOTENCY_CHANNELS,
  Idempotent,
  IdempotencyOutcome,
  IdempotencyModule,
  InMemoryStorageInProductionError,
  RedisIdempotencyStorage,
} from '../src/idempotency';
import type { RedisArgument, RedisScriptClient } from '../src/idempotency';
import { RedisCircuitBreaker } from '../src/redis/redis-circuit-breaker';
import { TEST_REDIS_URL } from './support/test-env';

// The idempotency module on its own (no orders, no app): a small Nest app on Fastify and on Express,
// over a real Redis, as another application would use it.

/**
 * The app's Redis gateway over one test connection: EVALSHA with the NOSCRIPT fallback, and Buffer
 * replies when the storage asks for them (stored responses are binary).
 */
function scriptClient(redis: {
  sendCommand(
    args: RedisArgument[],
    options?: { typeMapping?: object },
  ): Promise<unknown>;
}): RedisCircuitBreaker {
  return new RedisCircuitBreaker(
    {
      sendCommand: (args, options) =>
        redis.sendCommand(
          args,
          options?.returnBuffers
            ? { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } }
            : undefined,
        ),
    },
    {
      timeoutMs: 5000,
      failureThreshold: 1000,
      cooldownMs: 1000,
      resetConnection: () => undefined,
    },
  );
}

/** A route the test can hold in flight, and that counts how often it really ran. */
class Gate {
  runs = 0;
  private release?: () => void;
  private entered?: () => void;
  held = false;

  hold(): Promise<void> {
    this.held = true;
    return new Promise((resolve) => (this.entered = resolve));
  }

  async pass(): Promise<void> {
    this.runs++;
    if (!this.held) return;
    this.held = false;
    const wait = new Promise<void>((resolve) => (this.release = resolve));
    this.entered?.();
    await wait;
  }

  open(): void {
    this.release?.();
  }
}

const gate = new Gate();

@Controller('things')
class ThingsController {
  @Post()
  @Idempotent()
  async create(
    @Body() body: { name: string },
    @Res({ passthrough: true }) res: { header(n: string, v: string): void },
  ) {
    await gate.pass();
    if (body.name === 'bad') throw new BadRequestException('bad name');
    const id = randomUUID();
    res.header('Location', `/things/${id}`);
    return { id, name: body.name };
  }

  /** Identified by the body's `amount` alone: a changed note is the same request. */
  @Post('by-amount')
  @Idempotent({
    fingerprint: ({ body }) => (body as { amount?: number }).amount,
  })
  byAmount(@Body() body: { amount: number; note?: string }) {
    gate.runs++;
    return { id: randomUUID(), amount: body.amount };
  }

  @Post('optional')
  @Idempotent({ required: false })
  optional() {
    gate.runs++;
    return { ok: true };
  }

  @Get()
  @Idempotent()
  list() {
    return [];
  }
}

const redisUrl = TEST_REDIS_URL;

async function startApp(
  kind: 'fastify' | 'express',
  storage: RedisScriptClient,
  events: IdempotencyOutcome[],
  { lockLeaseMs = 5000, storageTimeoutMs = 2000 } = {},
) {
  @Module({
    imports: [
      IdempotencyModule.forRoot({
        storage: new RedisIdempotencyStorage(storage),
        keyPrefix: `idem-spec-${randomUUID()}:`,
        lockTtlMs: 5000,
        lockLeaseMs,
        // Long enough for a real Redis on a starved machine (at 100 ms a replay once missed its stored
        // answer and ran the handler again, degraded as documented); the broken-storage tests below
        // pass 100 ms, the bound they prove.
        storageTimeoutMs,
        onOutcome: (outcome) => events.push(outcome),
      }),
    ],
    controllers: [ThingsController],
  })
  class SpecModule {}
  const moduleRef = await Test.createTestingModule({
    imports: [SpecModule],
  }).compile();
  const app: INestApplication = moduleRef.createNestApplication(
    kind === 'fastify' ? new FastifyAdapter() : new ExpressAdapter(),
    { logger: false },
  );
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

describe.each(['fastify', 'express'] as const)(
  'IdempotencyInterceptor on %s with a real Redis',
  (kind) => {
    const redis = createClient({ url: redisUrl });
    let app: INestApplication;
    let url: string;
    let events: IdempotencyOutcome[];

    beforeAll(() => redis.connect());
    afterAll(() => redis.quit());
    beforeEach(async () => {
      events = [];
      gate.runs = 0;
      ({ app, url } = await startApp(kind, scriptClient(redis), events));
    });
    // A request a failed test left held would keep app.close() waiting for ever.
    afterEach(async () => {
      gate.held = false;
      gate.open();
      await app.close();
    });

    const post = (key: string | undefined, body: object, path = '/things') =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(key === undefined ? {} : { 'idempotency-key': key }),
        },
        body: JSON.stringify(body),
      });

    it('runs the handler once, then replays status, body and Location with the replay header', async () => {
      const first = await post('k1', { name: 'a' });
      const firstBody = (await first.json()) as { id: string };
      expect(first.status).toBe(201);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const second = await post('k1', { name: 'a' });
      expect(second.status).toBe(201);
      expect(await second.json()).toEqual(firstBody);
      expect(second.headers.get('location')).toBe(`/things/${firstBody.id}`);
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      expect(gate.runs).toBe(1);
      expect(events).toEqual(['created', 'replayed']);
    });

    it('names the same key in the bare and the quoted (sf-string) form', async () => {
      const first = (await (await post('abc"d', { name: 'a' })).json()) as {
        id: string;
      };
      const quoted = await post('"abc\\"d"', { name: 'a' });
      expect(((await quoted.json()) as { id: string }).id).toBe(first.id);
    });

    it('tells requests apart by their query string, in any parameter order: 422 for another query', async () => {
      const first = await post('q1', { name: 'a' }, '/things?x=1&y=2');
      expect(first.status).toBe(201);
      const reordered = await post('q1', { name: 'a' }, '/things?y=2&x=1');
      expect(reordered.status).toBe(201);
      expect(reordered.headers.get('idempotent-replayed')).toBe('true');
      const other = await post('q1', { name: 'a' }, '/things?x=2&y=2');
      expect(other.status).toBe(422);
      expect(gate.runs).toBe(1);
    });

    it('lets a route choose what identifies a request (its fingerprint option)', async () => {
      const first = await post(
        'f1',
        { amount: 5, note: 'a' },
        '/things/by-amount',
      );
      expect(first.status).toBe(201);
      const renoted = await post(
        'f1',
        { amount: 5, note: 'b' },
        '/things/by-amount',
      );
      expect(renoted.headers.get('idempotent-replayed')).toBe('true');
      const other = await post(
        'f1',
        { amount: 6, note: 'a' },
        '/things/by-amount',
      );
      expect(other.status).toBe(422);
      expect(gate.runs).toBe(1);
    });

    it('refuses a completed key reused with a different body: 422', async () => {
      await post('k2', { name: 'a' });
      const reused = await post('k2', { name: 'b' });
      expect(reused.status).toBe(422);
      expect(((await reused.json()) as { code: string }).code).toBe(
        'IDEMPOTENCY_KEY_REUSED',
      );
      expect(gate.runs).toBe(1);
    });

    it('answers a duplicate in flight with 409 and Retry-After, and a different body in flight with 422', async () => {
      const entered = gate.hold();
      const first = post('k3', { name: 'a' });
      await entered;
      const duplicate = await post('k3', { name: 'a' });
      expect(duplicate.status).toBe(409);
      expect(((await duplicate.json()) as { code: string }).code).toBe(
        'IDEMPOTENCY_REQUEST_IN_PROGRESS',
      );
      expect(
        Number(duplicate.headers.get('retry-after')),
      ).toBeGreaterThanOrEqual(1);
      expect((await post('k3', { name: 'b' })).status).toBe(422);
      gate.open();
      expect((await first).status).toBe(201);
      expect(
        (await post('k3', { name: 'a' })).headers.get('idempotent-replayed'),
      ).toBe('true');
    });

    it('keeps renewing a running claim, so a lease shorter than the request still answers 409', async () => {
      await app.close();
      // A 1 s lease, renewed every third of it, and the request held for 2.5 leases: without the
      // renewals the lock would lapse. (A 150 ms lease lapsed once on a loaded machine, where the
      // event loop stalled longer than it between two renewals.)
      ({ app, url } = await startApp(kind, scriptClient(redis), events, {
        lockLeaseMs: 1000,
      }));
      const entered = gate.hold();
      const first = post('k5', { name: 'a' });
      try {
        await entered;
        await new Promise((resolve) => setTimeout(resolve, 2500));
        expect((await post('k5', { name: 'a' })).status).toBe(409);
      } finally {
        // Never left held: a held request would keep app.close() waiting past the hook's timeout.
        gate.open();
      }
      expect((await first).status).toBe(201);
      expect(gate.runs).toBe(1);
    });

    it('stores nothing for a failed handler: the retry runs again', async () => {
      expect((await post('k4', { name: 'bad' })).status).toBe(400);
      expect((await post('k4', { name: 'bad' })).status).toBe(400);
      expect(gate.runs).toBe(2);
      expect((await post('k4', { name: 'good' })).status).toBe(201);
    });

    it('requires the key unless the route says otherwise, and never touches safe methods', async () => {
      const missing = await post(undefined, { name: 'a' });
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as { code: string }).code).toBe(
        'MISSING_IDEMPOTENCY_KEY',
      );
      expect((await post('', { name: 'a' })).status).toBe(400);
      expect((await post(undefined, {}, '/things/optional')).status).toBe(201);
      expect((await fetch(`${url}/things`)).status).toBe(200);
      expect(events).toEqual([]);
    });
  },
);

describe('IdempotencyInterceptor when its storage fails', () => {
  let app: INestApplication;
  let url: string;
  const events: IdempotencyOutcome[] = [];
  afterEach(() => app.close());

  it.each([
    [
      'refuses',
      {
        sendCommand: () => Promise.reject(new Error('ECONNREFUSED')),
        runScript: () => Promise.reject(new Error('ECONNREFUSED')),
      },
    ],
    [
      'hangs',
      {
        sendCommand: () => new Promise<never>(() => undefined),
        runScript: () => new Promise<never>(() => undefined),
      },
    ],
  ])(
    'runs the handler without the fast path when Redis %s',
    async (_, broken) => {
      events.length = 0;
      ({ app, url } = await startApp('fastify', broken, events, {
        storageTimeoutMs: 100,
      }));
      const started = Date.now();
      const response = await fetch(`${url}/things`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'k' },
        body: JSON.stringify({ name: 'a' }),
      });
      expect(response.status).toBe(201);
      expect(events).toEqual(['degraded', 'created']);
      // Bounded by the storage timeout (100 ms a call), not hung; generous margin for a loaded machine.
      expect(Date.now() - started).toBeLessThan(5000);
    },
  );
});

describe('RedisIdempotencyStorage', () => {
  const redis = createClient({ url: redisUrl });
  const storage = new RedisIdempotencyStorage(scriptClient(redis));
  const lock = (token: string) => ({
    state: 'in_flight' as const,
    fingerprint: 'f',
    token,
    renewUntil: Date.now() + 1000,
  });
  const done = {
    state: 'completed' as const,
    fingerprint: 'f',
    status: 201,
    headers: {},
    body: { ok: 1 },
  };
  beforeAll(() => redis.connect());
  afterAll(() => redis.quit());

  // The contract's cases (claims, owners, leases, TTLs) run against standalone and Cluster in
  // test/storage-contract.e2e-spec.ts; what is Redis's own is here.
  it('renews only its own lock, and never a completed entry', async () => {
    const key = `idem-spec:${randomUUID()}`;
    await storage.claim(key, lock('mine'), 200);
    expect(await storage.renew(key, 'theirs', 5000)).toBe(false);
    expect(await redis.pTTL(key)).toBeLessThanOrEqual(200);
    expect(await storage.renew(key, 'mine', 5000)).toBe(true);
    expect(await redis.pTTL(key)).toBeGreaterThan(1000);
    await storage.complete(key, 'mine', done, 60000);
    expect(await storage.renew(key, 'mine', 10)).toBe(false);
    expect(await redis.pTTL(key)).toBeGreaterThan(10000);
  });

  it('loads its scripts again after the server forgot them (NOSCRIPT)', async () => {
    const key = `idem-spec:${randomUUID()}`;
    await storage.claim(key, lock('mine'), 5000);
    await redis.sendCommand(['SCRIPT', 'FLUSH']);
    expect(await storage.release(key, 'mine')).toBe(true);
  });
});

describe('IdempotencyModule diagnostics: node:diagnostics_channel, as a third-party library subscribes', () => {
  const redis = createClient({ url: redisUrl });
  beforeAll(() => redis.connect());
  afterAll(() => redis.quit());

  /** Every channel's messages, in order, as `channel: detail`. */
  function listen() {
    const heard: string[] = [];
    const listeners = Object.entries(IDEMPOTENCY_CHANNELS).map(([, name]) => {
      const listener = (message: unknown) => {
        const m = message as Record<string, string | number | undefined>;
        const detail =
          m.result ?? m.outcome ?? m.operation ?? m.retryAfterSeconds ?? '';
        heard.push(`${name.replace('idempotency:', '')}:${String(detail)}`);
      };
      subscribe(name, listener);
      return () => unsubscribe(name, listener);
    });
    return { heard, stop: () => listeners.forEach((stop) => stop()) };
  }

  it('publishes claim, replay, conflict and mismatch; onOutcome (metrics) is fed from the outcome channel', async () => {
    const events: IdempotencyOutcome[] = [];
    const { app, url } = await startApp('fastify', scriptClient(redis), events);
    const { heard, stop } = listen();
    const post = (key: string, name: string) =>
      fetch(`${url}/things`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ name }),
      });
    try {
      await post('d1', 'a');
      await post('d1', 'a');
      await post('d1', 'b');
      const held = gate.hold();
      const first = post('d2', 'a');
      await held;
      expect((await post('d2', 'a')).status).toBe(409);
      gate.open();
      await first;
      expect(heard).toEqual([
        'claim:claimed',
        'outcome:created',
        'claim:taken',
        'replay:replayed',
        'outcome:replayed',
        'claim:taken',
        'mismatch:',
        'outcome:key_reused',
        'claim:claimed',
        'claim:taken',
        'conflict:1',
        'outcome:conflict_in_flight',
        'outcome:created',
      ]);
      expect(events).toEqual([
        'created',
        'replayed',
        'key_reused',
        'conflict_in_flight',
        'created',
      ]);
    } finally {
      gate.open();
      stop();
      await app.close();
    }
  });

  it('publishes each storage failure and the fallback to the handler', async () => {
    const events: IdempotencyOutcome[] = [];
    const refusing = {
      sendCommand: () => Promise.reject(new Error('ECONNREFUSED')),
      runScript: () => Promise.reject(new Error('ECONNREFUSED')),
    };
    const { app, url } = await startApp('fastify', refusing, events, {
      storageTimeoutMs: 100,
    });
    const { heard, stop } = listen();
    try {
      const response = await fetch(`${url}/things`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'k' },
        body: JSON.stringify({ name: 'a' }),
      });
      expect(response.status).toBe(201);
      expect(heard).toEqual([
        'store-failure:claim',
        'outcome:degraded',
        'claim:unavailable',
        'fallback:',
        'outcome:created',
      ]);
    } finally {
      stop();
      await app.close();
    }
  });
});

describe('IdempotencyModule safe defaults', () => {
  @Controller('open')
  class OpenController {
    @Post()
    @Idempotent()
    create() {
      return { ok: true };
    }
  }

  async function boot(
    options: Parameters<typeof IdempotencyModule.forRoot>[0],
    nodeEnv = 'test',
  ) {
    const warnings: string[] = [];
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = nodeEnv;
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [IdempotencyModule.forRoot(options)],
        controllers: [OpenController],
      }).compile();
      const app = moduleRef.createNestApplication(new FastifyAdapter(), {
        logger: {
          log: () => undefined,
          error: () => undefined,
          warn: (message: unknown) => warnings.push(String(message)),
        },
      });
      await app.init();
      await app.close();
      return warnings;
    } finally {
      process.env.NODE_ENV = previous;
    }
  }

  it('refuses the in-memory storage under NODE_ENV=production, in one line, unless allowed', async () => {
    await expect(boot({}, 'production')).rejects.toThrow(
      InMemoryStorageInProductionError,
    );
    await expect(boot({}, 'production')).rejects.toThrow(
      /^IdempotencyModule: the in-memory storage .* refused under NODE_ENV=production: pass a shared storage/,
    );
    await expect(
      boot({ allowInMemoryStorage: true, scope: () => 'x' }, 'production'),
    ).resolves.toEqual([]);
    await expect(boot({ scope: () => 'x' })).resolves.toEqual([]);
  });

  it('warns once at start-up when idempotent routes have no key scope', async () => {
    const warnings = await boot({});
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^idempotent routes without a key scope .*OpenController\.create \(\/open\).*set IdempotencyModule's scope/,
    );
    expect(await boot({ scope: () => 'user' })).toEqual([]);
  });
});
