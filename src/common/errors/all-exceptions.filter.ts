import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AppException } from './app.exception';
import { renderError } from './error-envelope';

/** The one global filter: every error, from Nest, validation, Fastify or the database, leaves in the envelope. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const { httpAdapter } = this.adapterHost;
    const http = host.switchToHttp();
    const request = http.getRequest<{
      id?: string;
      method?: string;
      url?: string;
    }>();
    const response = http.getResponse<unknown>();
    const rendered = renderError(exception);
    if (rendered.unexpected) {
      this.logger.error(
        `request ${request.id ?? '-'} ${request.method ?? ''} ${(request.url ?? '').split('?', 1)[0]} failed: ${String(exception)}`,
        exception instanceof Error ? exception.stack : undefined,
      );
    } else if (rendered.status === 503) {
      this.logger.warn(
        `request ${request.id ?? '-'} answered 503: ${String(exception)}`,
      );
    }
    for (const [name, value] of Object.entries(rendered.headers ?? {}))
      httpAdapter.setHeader(response, name, value);
    if (exception instanceof AppException)
      for (const [name, value] of Object.entries(exception.headers))
        httpAdapter.setHeader(response, name, value);
    httpAdapter.reply(response, rendered.body, rendered.status);
  }
}
