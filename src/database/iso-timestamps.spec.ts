import pg from 'pg';
import { ISO_TIMESTAMP_TYPES, isoTimestamp } from './iso-timestamps';

describe('isoTimestamp', () => {
  const pgWay = (text: string) =>
    (pg.types.getTypeParser(1184, 'text')(text) as Date).toISOString();

  it.each([
    '2026-12-07 04:23:03.123+00',
    '2026-12-07 04:23:03.12+00',
    '2026-12-07 04:23:03.1+00',
    '2026-12-07 04:23:03+00',
    '1970-01-01 00:00:00+00',
    '9999-12-31 23:59:59.999+00',
  ])('rearranges %s as pg would parse and print it', (text) => {
    expect(isoTimestamp(text)).toBe(pgWay(text));
    expect(isoTimestamp(text)).toMatch(
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/,
    );
  });

  it.each([
    ['another session time zone', '2026-12-07 05:23:03.123+01'],
    ['an offset with minutes', '2026-12-07 09:53:03.123+05:30'],
    ['a negative offset', '2026-12-06 20:23:03.123-08'],
    ['microseconds', '2026-12-07 04:23:03.123456+00'],
    ['a year before 1000', '0999-12-07 04:23:03.5+00'],
  ])('agrees with pg’s way for %s', (_, text) => {
    expect(isoTimestamp(text)).toBe(pgWay(text));
  });

  it('is what the query types give timestamptz, and only timestamptz', () => {
    expect(ISO_TIMESTAMP_TYPES.getTypeParser(1184, 'text')).toBe(isoTimestamp);
    // timestamp without time zone, int4, jsonb: pg's own parsers.
    for (const oid of [1114, 23, 3802])
      expect(ISO_TIMESTAMP_TYPES.getTypeParser(oid, 'text')).toBe(
        pg.types.getTypeParser(oid, 'text'),
      );
  });
});
