export * from './app.exception';
export * from './error-codes';
export * from './database-errors';
export { renderError } from './error-envelope';
export { AllExceptionsFilter } from './all-exceptions.filter';
export { ApiError, RETRY_AFTER_HEADER } from './api-error.decorator';
export * from './transport-errors';
