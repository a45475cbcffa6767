import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { PATH_METADATA } from '@nestjs/common/constants';
import { IDEMPOTENT_ROUTE } from './idempotency.constants';
import { IDEMPOTENCY_MODULE_OPTIONS } from './idempotency.module-definition';
import type { IdempotencyModuleOptions } from './idempotency-options.interface';
import { InMemoryIdempotencyStorage } from './storage/in-memory.storage';

/** The in-memory storage under NODE_ENV=production without `allowInMemoryStorage`: refused. */
export class InMemoryStorageInProductionError extends Error {
  constructor() {
    super(
      'IdempotencyModule: the in-memory storage keeps keys in one process and loses them on restart, so it is refused under NODE_ENV=production: pass a shared storage (RedisIdempotencyStorage), or allowInMemoryStorage: true for a single process that may forget',
    );
    this.name = 'InMemoryStorageInProductionError';
  }
}

/** The storage the module uses: the one given, or the in-memory one where it is safe. */
export function chooseStorage(
  options: IdempotencyModuleOptions,
  nodeEnv = process.env.NODE_ENV,
) {
  const storage = options.storage ?? new InMemoryIdempotencyStorage();
  if (
    storage instanceof InMemoryIdempotencyStorage &&
    nodeEnv === 'production' &&
    !options.allowInMemoryStorage
  )
    throw new InMemoryStorageInProductionError();
  return storage;
}

/**
 * At start-up: one warning when idempotent routes exist and keys have no scope (every caller shares
 * one key space, so one user's key can replay another user's response).
 */
@Injectable()
export class IdempotencyStartupChecks implements OnApplicationBootstrap {
  private readonly logger = new Logger('IdempotencyModule');

  constructor(
    @Inject(IDEMPOTENCY_MODULE_OPTIONS)
    private readonly options: IdempotencyModuleOptions,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.scope) return;
    const routes = this.idempotentRoutes();
    if (routes.length === 0) return;
    this.logger.warn(
      `idempotent routes without a key scope (every caller shares one key space, so one caller's key replays another's response): ${routes.join(', ')}; set IdempotencyModule's scope, e.g. (request) => request.user?.id`,
    );
  }

  private idempotentRoutes(): string[] {
    const routes: string[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const instance = wrapper.instance as object | undefined;
      const metatype = wrapper.metatype as
        (abstract new (...args: never[]) => unknown) | undefined;
      if (!instance || !metatype) continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      const base = this.reflector.get<string>(PATH_METADATA, metatype) ?? '';
      const classLevel = this.reflector.get<unknown>(
        IDEMPOTENT_ROUTE,
        metatype,
      );
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const handler = (prototype as Record<string, unknown>)[name] as (
          ...args: unknown[]
        ) => unknown;
        if (!classLevel && !this.reflector.get(IDEMPOTENT_ROUTE, handler))
          continue;
        const path = this.reflector.get<string>(PATH_METADATA, handler) ?? '';
        routes.push(
          `${metatype.name}.${name} (/${[base, path].filter((p) => p && p !== '/').join('/')})`,
        );
      }
    }
    return routes;
  }
}
