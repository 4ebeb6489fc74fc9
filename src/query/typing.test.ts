import { describe, expect, it } from 'vitest';
import { asYouType } from './typing.ts';
import { parseQuery } from './parse.ts';

describe('asYouType', () => {
  it.each([
    ['wi', 'wi*'],
    ['boundary la', 'boundary la*'],
    ['+wing -sup', '+wing -sup*'],
    ['wing ', 'wing '],
    ['"boundary la', '"boundary la"'],
    ['"boundary layer" wi', '"boundary layer" wi*'],
    ['wing -', 'wing'],
    ['wing +', 'wing'],
    ['lft~1', 'lft~1'],
    ['aero*', 'aero*'],
    ['wing ?', 'wing ?'],
    ['東京', '東京*'],
    ['+"boundary ', '+"boundary "'],
    ['wing +"', 'wing'],
  ])('%j → %j', (typed, q) => {
    expect(asYouType(typed)).toBe(q);
  });

  it('makes a valid query of every prefix of a valid one', () => {
    const full = '+"boundary layer" -supersonic wing* lft~1 東京';
    for (let i = 1; i <= full.length; i++) {
      const q = asYouType(full.slice(0, i));
      if (q.trim() === '' || !/[\p{L}\p{N}]/u.test(q)) continue;
      expect(() => parseQuery(q), JSON.stringify(full.slice(0, i))).not.toThrow();
    }
  });
});
