import {
  BadRequestException,
  HttpException,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { errorCodes } from 'fastify';
import { QueryFailedError } from 'typeorm';
import { OrderNotFoundError, ValidationFailedError } from './app.exception';
import { renderError } from './error-envelope';

describe('renderError', () => {
  it('keeps the code, message and details of an app exception', () => {
    const rendered = renderError(
      new ValidationFailedError([{ field: 'currency', message: 'bad' }]),
    );
    expect(rendered).toEqual({
      status: 400,
      unexpected: false,
      body: {
        error: {
          code: 'VALIDATION_FAILED',
          message: 'Request validation failed',
          details: [{ field: 'currency', message: 'bad' }],
        },
      },
    });
    expect(renderError(new OrderNotFoundError()).body.error.code).toBe(
      'ORDER_NOT_FOUND',
    );
  });

  it('gives plain Nest exceptions a code from their status', () => {
    expect(
      renderError(new NotFoundException('Cannot GET /x')).body.error,
    ).toEqual({
      code: 'NOT_FOUND',
      message: 'No route matches this method and path',
    });
    expect(renderError(new BadRequestException()).body.error.code).toBe(
      'BAD_REQUEST',
    );
  });

  it('maps Fastify body errors, also when the adapter wrapped them', () => {
    const tooLarge = new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
    expect(renderError(tooLarge).status).toBe(413);
    const wrapped = new HttpException('bad json', 400, {
      cause: new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(),
    });
    expect(renderError(wrapped).body.error.code).toBe('INVALID_JSON');
    expect(
      renderError(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE()).body.error
        .code,
    ).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers a database that does not answer with 503, and hides other failures as 500', () => {
    const refused = Object.assign(
      new Error('connect ECONNREFUSED 127.0.0.1:5432'),
      { code: 'ECONNREFUSED' },
    );
    expect(renderError(refused).status).toBe(503);
    const timeout = new QueryFailedError(
      'SELECT 1',
      [],
      Object.assign(new Error('canceling statement due to statement timeout'), {
        code: '57014',
      }),
    );
    expect(renderError(timeout).status).toBe(503);
    const bug = renderError(new TypeError('x is undefined'));
    expect(bug).toEqual({
      status: 500,
      unexpected: true,
      body: {
        error: { code: 'INTERNAL', message: 'An unexpected error occurred' },
      },
    });
    const syntax = new QueryFailedError(
      'SELEC',
      [],
      Object.assign(new Error('syntax error'), { code: '42601' }),
    );
    expect(renderError(syntax).status).toBe(500);
  });

  it('names the failing checks of a readiness 503 and treats it as expected', () => {
    const rendered = renderError(
      new ServiceUnavailableException({
        status: 'error',
        info: {},
        error: { shutdown: { status: 'down' }, database: { status: 'down' } },
        details: {},
      }),
    );
    expect(rendered).toMatchObject({
      status: 503,
      unexpected: false,
      body: {
        error: {
          code: 'SERVICE_UNAVAILABLE',
          message: 'Not ready: shutdown, database',
        },
      },
    });
  });
});

describe('a client that went away mid-body', () => {
  it('is a 400, not an unexpected error to log with a stack', () => {
    const aborted = Object.assign(new Error('aborted'), {
      code: 'ECONNRESET',
    });
    const rendered = renderError(aborted);
    expect(rendered.status).toBe(400);
    expect(rendered.unexpected).toBe(false);
  });
});
