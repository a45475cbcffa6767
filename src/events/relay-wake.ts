/**
 * The core NATS subject (outside the stream's `orders.>`) on which "an event was committed" reaches
 * the instance that relays `stream`'s events. bench:relay wakes the relay on it too.
 */
export function relayWakeSubject(stream: string): string {
  return `_orders_relay.${stream}.wake`;
}
