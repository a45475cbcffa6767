import { registerAs } from '@nestjs/config';
import { optionalInt, optionalString } from './env';

export const appConfig = registerAs('app', () => ({
  port: optionalInt('PORT', 3000, { min: 0, max: 65535 }),
  host: optionalString('HOST', '0.0.0.0'),
}));
