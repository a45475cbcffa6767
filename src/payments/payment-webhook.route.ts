/** The payment webhook's path: its controller serves it, and the app keeps its body as raw bytes. */
export const PAYMENT_WEBHOOK_PATH = {
  controller: 'webhooks',
  route: 'payments',
};
export const PAYMENT_WEBHOOK_ROUTE = `/${PAYMENT_WEBHOOK_PATH.controller}/${PAYMENT_WEBHOOK_PATH.route}`;
