import type { PendingEventRow } from './order-events.sql';

/**
 * An order event as a CloudEvent 1.0 in structured JSON mode (the spec's own fields; the
 * `cloudevents` package would add validation we do not need for events we build ourselves).
 * `sequence` is an extension attribute: the order's version after the change, 1 for `created`.
 */
export interface OrderCloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  sequence: number;
  data: Record<string, unknown>;
}

export const CLOUD_EVENT_CONTENT_TYPE = 'application/cloudevents+json';

/**
 * The event as the JSON text published, built around `data`'s text as Postgres wrote it (valid JSON):
 * the relay parses and re-serialises nothing. The other members are UUIDs, a known type, a formatted
 * time and an integer; `source` is serialised once by the caller (`JSON.stringify`).
 */
export function cloudEventJson(
  row: Pick<
    PendingEventRow,
    'id' | 'order_id' | 'type' | 'sequence' | 'data' | 'time'
  >,
  sourceJson: string,
): string {
  return (
    `{"specversion":"1.0","id":"${row.id}","source":${sourceJson},"type":"${row.type}",` +
    `"subject":"${row.order_id}","time":"${row.time}","datacontenttype":"application/json",` +
    `"sequence":${row.sequence},"data":${row.data}}`
  );
}
