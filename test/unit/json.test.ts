import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { HeddleError } from '../../src/errors.js';
import { argumentsObject, JsonTooDeep, MAX_JSON_DEPTH, parseJson } from '../../src/json.js';
import { parseAnswer } from '../../src/providers/upstream.js';
import type { CallContext } from '../../src/providers/types.js';

// JSON nested past MAX_JSON_DEPTH is refused where it enters (client bodies, target answers, tool arguments; model
// output in test/unit/dialects/structured.test.ts): V8 parses any depth, but writing it back (JSON.stringify) and Heddle's walks over it overflow the stack.

/** `levels` arrays, one inside the other, around a 0. */
const nested = (levels: number) => `${'['.repeat(levels)}0${']'.repeat(levels)}`;

describe('parseJson (src/json.ts)', () => {
  it(`parses up to ${MAX_JSON_DEPTH} levels and refuses one more, naming where`, () => {
    expect(parseJson(nested(MAX_JSON_DEPTH))).toBeInstanceOf(Array);
    const err = (() => {
      try {
        parseJson(`{"a":1,"b":[{"c":${nested(MAX_JSON_DEPTH - 2)}}]}`);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(JsonTooDeep);
    expect(err).toBeInstanceOf(SyntaxError);
    expect((err as JsonTooDeep).path.slice(0, 4)).toEqual(['b', 0, 'c', 0]);
  });

  it('refuses depths that would overflow the stack when written back, without overflowing itself', () => {
    const text = nested(100_000);
    expect(() => JSON.stringify(JSON.parse(text))).toThrow(RangeError);
    expect(() => parseJson(text)).toThrow(JsonTooDeep);
  });

  it('keeps plain invalid JSON a plain SyntaxError', () => {
    expect(() => parseJson('{"a":')).toThrow(SyntaxError);
    expect(() => parseJson('{"a":')).not.toThrow(JsonTooDeep);
  });
});

describe('too deep where it enters', () => {
  const ctx = { target: { name: 'up' } } as CallContext;

  it("a target's answer: a 502 invalid answer, retryable, naming the target", () => {
    const err = (() => {
      try {
        parseAnswer(ctx, `{"choices":${nested(10_000)}}`, z.object({}));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(HeddleError);
    expect(err).toMatchObject({ status: 502, code: 'upstream_invalid_response', retryable: true, target: 'up' });
    expect((err as HeddleError).message).toMatch(/nested deeper than 128 levels/);
  });

  it('tool arguments: kept as text, as arguments that are not JSON are', () => {
    expect(argumentsObject(`{"a":${nested(10_000)}}`)).toEqual({ arguments: `{"a":${nested(10_000)}}` });
  });
});
