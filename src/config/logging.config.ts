import { registerAs } from '@nestjs/config';
import { invalidVariable, optionalString } from './env';

const LOG_LEVELS = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

const LOG_FORMATS = ['auto', 'json', 'pretty'];

export const loggingConfig = registerAs('logging', () => ({
  level: readLogLevel(),
  /** `pretty`: human-readable (pino-pretty); `json`: one JSON object per line, for log collectors. */
  format: readLogFormat(),
}));

function readLogLevel(): string {
  const level = optionalString('LOG_LEVEL', 'info').toLowerCase();
  if (!LOG_LEVELS.includes(level))
    return invalidVariable(
      'LOG_LEVEL',
      `"${level}" is not one of ${LOG_LEVELS.join(', ')}`,
      'info',
    );
  return level;
}

/**
 * `auto` (default): pretty for a developer at a terminal (stdout is a TTY and NODE_ENV is not
 * production), JSON everywhere else (containers, pipes, files, tests).
 */
function readLogFormat(): 'json' | 'pretty' {
  const format = optionalString('LOG_FORMAT', 'auto').toLowerCase();
  if (!LOG_FORMATS.includes(format))
    return invalidVariable(
      'LOG_FORMAT',
      `"${format}" is not one of ${LOG_FORMATS.join(', ')}`,
      'json',
    );
  if (format !== 'auto') return format as 'json' | 'pretty';
  const atTerminal = process.stdout.isTTY === true;
  return atTerminal && optionalString('NODE_ENV', '') !== 'production'
    ? 'pretty'
    : 'json';
}
