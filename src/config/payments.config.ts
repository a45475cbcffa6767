import { registerAs } from '@nestjs/config';
import { invalidVariable, optionalInt, optionalString } from './env';

/** The Standard Webhooks timestamp tolerance (fixed by the spec's package): 5 minutes either way. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

export const paymentsConfig = registerAs('payments', () => ({
  /** Empty: the webhook route answers 503 WEBHOOKS_DISABLED. */
  webhookSecrets: readWebhookSecrets(),
  /**
   * How long a processed event is remembered (its webhook id dedupes redeliveries). Longer than the
   * timestamp tolerance, so that no delivery the signature check accepts can find its record gone.
   */
  eventRetentionSeconds: optionalInt(
    'PAYMENT_EVENT_RETENTION_SECONDS',
    7 * 86400,
    { min: 2 * WEBHOOK_TOLERANCE_SECONDS, max: 315360000 },
  ),
}));

/** `whsec_<base64>` secrets, comma-separated: any one verifying is enough (rotation without downtime). */
function readWebhookSecrets(): string[] {
  const secrets = optionalString('PAYMENT_WEBHOOK_SECRETS', '')
    .split(',')
    .map((secret) => secret.trim())
    .filter(Boolean);
  for (const [index, secret] of secrets.entries()) {
    const encoded = secret.startsWith('whsec_') ? secret.slice(6) : '';
    const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded)
      ? Buffer.from(encoded, 'base64').length
      : 0;
    if (bytes < 16)
      return invalidVariable(
        'PAYMENT_WEBHOOK_SECRETS',
        `secret ${index + 1} is not whsec_ followed by at least 16 base64-encoded bytes`,
        [],
      );
  }
  return secrets;
}
