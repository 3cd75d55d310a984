import { describe, expect, it } from 'vitest';
import { rawHeaderLookup } from '../../../src/node/fast-path.js';

// The fast path reads request headers from node's raw list; every stage must see what web `Headers` would give.

const raws: string[][] = [
  ['Authorization', 'Bearer k1'],
  ['authorization', 'Bearer k1', 'AUTHORIZATION', 'Bearer k2'],
  ['X-Heddle-Privacy', ' confidential\t', 'x-heddle-purpose', 'evaluation'],
  ['x-api-key', '', 'x-heddle-cache', 'only'],
  ['Host', '127.0.0.1', 'Content-Type', 'application/json; charset=utf-8', 'x-heddle-purpose', 'a', 'X-Heddle-Purpose', 'b'],
  ['x-custom', 'caf\u00e9 \u00a0'],
  [],
];
const names = ['authorization', 'x-api-key', 'x-heddle-privacy', 'x-heddle-purpose', 'x-heddle-cache', 'content-type', 'x-custom', 'absent'];

describe('rawHeaderLookup', () => {
  for (const raw of raws) {
    it(`reads ${JSON.stringify(raw)} as Headers does`, () => {
      const web = new Headers();
      for (let i = 0; i < raw.length; i += 2) web.append(raw[i] as string, raw[i + 1] as string);
      const lookup = rawHeaderLookup(raw);
      for (const name of names) expect(lookup.get(name), name).toBe(web.get(name));
    });
  }
});
