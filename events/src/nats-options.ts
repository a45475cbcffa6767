import {
  credsAuthenticator,
  nkeyAuthenticator,
  type ConnectionOptions,
} from '@nats-io/transport-node';
import { readFileSync } from 'node:fs';

/** Where a consumer's NATS credentials come from; the variables every tool of this repo reads. */
export interface NatsSettings {
  /** `nats://[user:password@]host:port`, comma-separated. */
  NATS_URL?: string;
  NATS_USER?: string;
  NATS_PASSWORD?: string;
  NATS_TOKEN?: string;
  /** A `.creds` file (JWT and NKey seed), as `nsc` writes it. */
  NATS_CREDS_FILE?: string;
  /** A file holding an NKey seed (`SU...`). */
  NATS_NKEY_SEED_FILE?: string;
}

/** A setting that cannot be used, named, in one line. */
export class NatsSettingError extends Error {}

/**
 * Connection options from NATS_URL and the credential variables: servers without their userinfo
 * (the v3 client ignores a password in a URL), the user and password taken from it or from
 * NATS_USER/NATS_PASSWORD, a token, or an authenticator for a creds file or NKey seed. An empty
 * NATS_URL yields no servers: events are off.
 *
 * @example
 * const consumer = new OrderEventsConsumer({ ...natsConnectOptions(process.env), durable, pool, handler });
 */
export function natsConnectOptions(env: NatsSettings): Pick<
  ConnectionOptions,
  'servers' | 'user' | 'pass' | 'token' | 'authenticator'
> & {
  servers: string[];
} {
  const options: ReturnType<typeof natsConnectOptions> = { servers: [] };
  for (const entry of (env.NATS_URL ?? '').split(',')) {
    if (!entry.trim()) continue;
    let url: URL;
    try {
      url = new URL(entry.trim());
    } catch {
      throw new NatsSettingError(
        `NATS_URL: "${redactUrl(entry.trim())}" is not a nats:// URL`,
      );
    }
    if (!['nats:', 'tls:'].includes(url.protocol) || !url.hostname)
      throw new NatsSettingError(
        `NATS_URL: "${redactUrl(entry.trim())}" is not a nats:// URL`,
      );
    if (url.username) {
      options.user = decodeURIComponent(url.username);
      options.pass = decodeURIComponent(url.password);
    }
    options.servers.push(`${url.protocol}//${url.host}`);
  }
  if (env.NATS_USER) {
    options.user = env.NATS_USER;
    options.pass = env.NATS_PASSWORD ?? '';
  }
  if (env.NATS_TOKEN) options.token = env.NATS_TOKEN;
  if (env.NATS_CREDS_FILE)
    options.authenticator = credsAuthenticator(
      readSecretFile('NATS_CREDS_FILE', env.NATS_CREDS_FILE),
    );
  else if (env.NATS_NKEY_SEED_FILE)
    options.authenticator = nkeyAuthenticator(
      new TextEncoder().encode(
        new TextDecoder()
          .decode(
            readSecretFile('NATS_NKEY_SEED_FILE', env.NATS_NKEY_SEED_FILE),
          )
          .trim(),
      ),
    );
  return options;
}

/** A URL as it may be logged: its userinfo replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1***@');
}

function readSecretFile(name: string, path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new NatsSettingError(
      `${name}: ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
}
