import { Module } from '@nestjs/common';
import { createSecretKey } from 'node:crypto';
import { ConfigType } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule, JwtService } from '@nestjs/jwt';
import { authConfig } from '../config';
import { BearerTokenVerifier } from './bearer-token.verifier';
import { JwtAuthGuard } from './jwt-auth.guard';

@Module({
  imports: [
    JwtModule.registerAsync({
      inject: [authConfig.KEY],
      useFactory: (auth: ConfigType<typeof authConfig>) => ({
        // A KeyObject made once: given a string, jsonwebtoken tries createPublicKey and then
        // createSecretKey on every verify, which was the top frame of the replay path's profile.
        secret: createSecretKey(Buffer.from(auth.jwtSecret)),
        verifyOptions: {
          algorithms: ['HS256'],
          issuer: auth.issuer,
          audience: auth.audience,
        },
        signOptions: { algorithm: 'HS256' },
      }),
    }),
  ],
  providers: [
    {
      provide: BearerTokenVerifier,
      inject: [JwtService, authConfig.KEY],
      useFactory: (jwt: JwtService, auth: ConfigType<typeof authConfig>) =>
        new BearerTokenVerifier(jwt, {
          requireExp: auth.requireExp,
          maxLifetimeSeconds: auth.maxLifetimeSeconds,
          clockToleranceSeconds: auth.clockToleranceSeconds,
        }),
    },
    { provide: APP_GUARD, useClass: JwtAuthGuard },
  ],
  exports: [BearerTokenVerifier],
})
export class AuthModule {}
