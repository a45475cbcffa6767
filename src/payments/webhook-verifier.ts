import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { WebhookSignatureInvalidError } from '../common/errors';

/** The three headers of the Standard Webhooks scheme. */
export const WEBHOOK_HEADERS = [
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
] as const;

/**
 * Header formats, checked before the library sees them. Ids are visible ASCII without `.` (the spec
 * asks it: the signed content is `id.timestamp.body`) and fit payment_events.webhook_id. The
 * timestamp is Unix seconds as 1-10 digits: the library reads it with parseInt, which would accept
 * `<ts>abc` and `0<ts>.9`. A signature header holds a few `v1,<base64>` entries.
 */
export const WEBHOOK_ID = /^[\x21-\x2d\x2f-\x7e]{1,255}$/;
export const WEBHOOK_TIMESTAMP = /^[0-9]{1,10}$/;
export const WEBHOOK_SIGNATURE =
  /^[\x21-\x7e]{1,1024}(?: [\x21-\x7e]{1,1024}){0,7}$/;
/** The longest signature header WEBHOOK_SIGNATURE accepts: 8 entries of 1,024 characters and 7 spaces. */
export const WEBHOOK_SIGNATURE_MAX_LENGTH = 8 * 1024 + 7;

/**
 * Verifies a delivery with the spec's own package (`standardwebhooks`): HMAC-SHA256 of
 * `<webhook-id>.<webhook-timestamp>.<raw body>`, `v1,` signatures, a timestamp within 5 minutes
 * either way. Any configured secret verifying is enough, so a secret can be rotated without downtime.
 */
export class WebhookVerifier {
  private readonly webhooks: Webhook[];

  constructor(secrets: string[]) {
    this.webhooks = secrets.map((secret) => new Webhook(secret));
  }

  get enabled(): boolean {
    return this.webhooks.length > 0;
  }

  /** Returns the webhook id; throws WebhookSignatureInvalidError when the delivery does not verify. */
  verify(
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): string {
    const [id, timestamp, signature] = WEBHOOK_HEADERS.map((name) => {
      const value = headers[name];
      return typeof value === 'string' ? value : undefined;
    });
    if (!id || !timestamp || !signature)
      throw new WebhookSignatureInvalidError(
        `missing ${WEBHOOK_HEADERS.filter((name) => typeof headers[name] !== 'string').join(', ')}`,
      );
    if (!WEBHOOK_ID.test(id))
      throw new WebhookSignatureInvalidError('malformed webhook-id');
    if (!WEBHOOK_TIMESTAMP.test(timestamp))
      throw new WebhookSignatureInvalidError('malformed webhook-timestamp');
    if (!WEBHOOK_SIGNATURE.test(signature))
      throw new WebhookSignatureInvalidError('malformed webhook-signature');
    const sent = {
      'webhook-id': id,
      'webhook-timestamp': timestamp,
      'webhook-signature': signature,
    };
    let failure = 'no matching signature found';
    for (const webhook of this.webhooks) {
      try {
        webhook.verify(rawBody, sent, { jsonParse: false });
        return id;
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        failure = error.message.toLowerCase();
      }
    }
    throw new WebhookSignatureInvalidError(failure);
  }
}
