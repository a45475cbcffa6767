/** The OpenAPI name of the payment webhook's scheme: its Standard Webhooks signature header. */
export const WEBHOOK_SIGNATURE_SCHEME = 'webhookSignature';
