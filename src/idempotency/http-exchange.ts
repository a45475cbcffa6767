import { ExecutionContext } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { REPLAYED_HEADER } from './idempotency.constants';
import type { CompletedEntry } from './storage/idempotency-storage.interface';

/** What the interceptor reads of a request, whatever the HTTP platform. */
export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

/**
 * What the interceptor reads from and writes to a response, through Nest's HTTP adapter so that it
 * works on Express and Fastify alike.
 *
 * @example new HttpExchange(adapterHost, reflector, ['location']).replay(context, entry)
 */
export class HttpExchange {
  /** `storedHeaders`: lower-case names of the response headers worth replaying. */
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly reflector: Reflector,
    private readonly storedHeaders: string[],
  ) {}

  /** The status Nest will send: `@HttpCode()` or the method's default (201 for POST). */
  status(context: ExecutionContext): number {
    const explicit = this.reflector.get<number | undefined>(
      HTTP_CODE_METADATA,
      context.getHandler(),
    );
    return (
      explicit ??
      (context.switchToHttp().getRequest<{ method: string }>().method === 'POST'
        ? 201
        : 200)
    );
  }

  /** The response headers worth replaying (e.g. Location), as the handler set them. */
  headersToStore(context: ExecutionContext): Record<string, string> {
    const response = context
      .switchToHttp()
      .getResponse<{ getHeader(name: string): unknown }>();
    const headers: Record<string, string> = {};
    for (const name of this.storedHeaders) {
      const value = response.getHeader(name);
      if (typeof value === 'string' || typeof value === 'number')
        headers[name] = String(value);
    }
    return headers;
  }

  /** Sends a stored response again: its status and headers, marked replayed; returns its body. */
  replay(context: ExecutionContext, entry: CompletedEntry): unknown {
    this.adapterHost.httpAdapter.status(
      context.switchToHttp().getResponse(),
      entry.status,
    );
    for (const [name, value] of Object.entries(entry.headers))
      this.setHeader(context, name, value);
    this.setHeader(context, REPLAYED_HEADER, 'true');
    return entry.body;
  }

  setHeader(context: ExecutionContext, name: string, value: string): void {
    this.adapterHost.httpAdapter.setHeader(
      context.switchToHttp().getResponse(),
      name,
      value,
    );
  }
}
