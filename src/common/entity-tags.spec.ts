import { InvalidPreconditionError } from './errors';
import {
  MAX_LISTED_ENTITY_TAGS,
  parseEntityTagCondition,
  strongMatch,
  weakMatch,
} from './entity-tags';

describe('entity tag conditions (RFC 9110 If-Match / If-None-Match)', () => {
  const parse = (value: string | string[] | undefined) =>
    parseEntityTagCondition(value, 'If-Match');

  it('reads "*", one tag, a list, weak tags, and several header lines', () => {
    expect(parse(undefined)).toBeUndefined();
    expect(parse(' * ')).toBe('*');
    expect(parse('"3"')).toEqual([{ weak: false, quoted: '"3"' }]);
    expect(parse('W/"3" ,\t"4",')).toEqual([
      { weak: true, quoted: '"3"' },
      { weak: false, quoted: '"4"' },
    ]);
    expect(parse(['"1"', '"2"'])).toHaveLength(2);
    // A comma may sit inside an opaque tag.
    expect(parse('"a,b"')).toEqual([{ weak: false, quoted: '"a,b"' }]);
  });

  it('refuses what is not a list of entity tags, and lists longer than the bound', () => {
    for (const bad of [
      '',
      '3',
      '"3',
      '"3" "4"',
      'w/"3"',
      '"3",,x',
      '"a"b"',
      '*, "3"',
    ])
      expect(() => parse(bad)).toThrow(InvalidPreconditionError);
    const tags = (n: number) =>
      Array.from({ length: n }, (_, i) => `"${i}"`).join(', ');
    expect(parse(tags(MAX_LISTED_ENTITY_TAGS))).toHaveLength(
      MAX_LISTED_ENTITY_TAGS,
    );
    expect(() => parse(tags(MAX_LISTED_ENTITY_TAGS + 1))).toThrow(
      InvalidPreconditionError,
    );
  });

  it('compares strongly for If-Match and weakly for If-None-Match', () => {
    const weak = parse('W/"3"')!;
    expect(strongMatch(weak, '"3"')).toBe(false);
    expect(weakMatch(weak, '"3"')).toBe(true);
    expect(strongMatch(parse('"2", "3"')!, '"3"')).toBe(true);
    expect(strongMatch('*', '"3"')).toBe(true);
    expect(weakMatch(parse('"4"')!, '"3"')).toBe(false);
  });
});
