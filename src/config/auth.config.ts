import { registerAs } from '@nestjs/config';
import { requiredString } from './env';

export const authConfig = registerAs('auth', () => ({
  jwtSecret: requiredString('JWT_SECRET', (value) =>
    value.length < 16 ? 'must be at least 16 characters' : undefined,
  ),
}));
