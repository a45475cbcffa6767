import { ArgumentsHost, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AllExceptionsFilter } from './all-exceptions.filter';

describe('AllExceptionsFilter', () => {
  afterEach(() => jest.restoreAllMocks());

  function hostFor(url: string): ArgumentsHost {
    const request = { id: 'req-1', method: 'GET', url };
    return {
      switchToHttp: () => ({
        getRequest: () => request,
        getResponse: () => ({}),
      }),
    } as unknown as ArgumentsHost;
  }

  it('logs an unexpected error with the path only: never the query string (cursors, tokens)', () => {
    const logged = jest
      .spyOn(Logger.prototype, 'error')
      .mockImplementation(() => undefined);
    const reply = jest.fn();
    const filter = new AllExceptionsFilter({
      httpAdapter: { reply },
    } as unknown as HttpAdapterHost);
    filter.catch(
      new Error('boom'),
      hostFor('/orders?cursor=c2VjcmV0&token=abc'),
    );
    expect(logged).toHaveBeenCalledTimes(1);
    const line = String(logged.mock.calls[0][0]);
    expect(line).toContain('GET /orders failed: Error: boom');
    expect(line).not.toMatch(/cursor|token|c2VjcmV0/);
    expect(reply).toHaveBeenCalledWith(
      {},
      {
        error: { code: 'INTERNAL', message: 'An unexpected error occurred' },
      },
      500,
    );
  });
});
