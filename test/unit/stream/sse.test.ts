import { describe, expect, it } from 'vitest';
import { sseBatches, type SseEvent } from '../../../src/stream/sse.js';

// The SSE parser every provider's stream reader uses: events per the spec (data and event fields, comments,
// multi-line data, dispatch on a blank line), whatever way the bytes are split into network chunks.

async function parse(pieces: Uint8Array[]): Promise<{ events: SseEvent[]; batches: number }> {
  async function* chunks() {
    yield* pieces;
  }
  const events: SseEvent[] = [];
  let batches = 0;
  for await (const batch of sseBatches(chunks())) {
    expect(batch.length).toBeGreaterThan(0);
    batches++;
    events.push(...batch);
  }
  return { events, batches };
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** Every split of `bytes` into two chunks, and into single bytes. */
function splits(bytes: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [[bytes], Array.from(bytes, (b) => Uint8Array.of(b))];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  return out;
}

const stream = [
  ': a comment line',
  'data: {"n":1}',
  '',
  'event: message_start',
  'data: {"type":"message_start","text":"héllo ✓"}',
  '',
  'data: line one',
  'data:line two',
  'id: 7',
  '',
  '',
  'data: [DONE]',
  '',
];
const expected: SseEvent[] = [
  { event: undefined, data: '{"n":1}' },
  { event: 'message_start', data: '{"type":"message_start","text":"héllo ✓"}' },
  { event: undefined, data: 'line one\nline two' },
  { event: undefined, data: '[DONE]' },
];

describe('sseBatches', () => {
  for (const [name, eol] of [['LF', '\n'], ['CRLF', '\r\n'], ['CR', '\r']] as const) {
    it(`parses ${name} line ends the same at every split point (multi-byte characters split too)`, async () => {
      const bytes = utf8(stream.join(eol));
      for (const pieces of splits(bytes)) expect((await parse(pieces)).events).toEqual(expected);
    });
  }

  it('hands over every event a network chunk completes at once', async () => {
    const { events, batches } = await parse([utf8('data: a\n\ndata: b\n\ndata: c'), utf8('\n\n')]);
    expect(events.map((e) => e.data)).toEqual(['a', 'b', 'c']);
    expect(batches).toBe(2);
  });

  it('delivers a last event that has no trailing blank line, and nothing for a stream of comments', async () => {
    expect((await parse([utf8('data: {"done":true}')])).events).toEqual([{ event: undefined, data: '{"done":true}' }]);
    expect((await parse([utf8(': ping\n\n: ping\n\n')])).events).toEqual([]);
  });

  it('resets the event name after each dispatch, and ignores a blank line with no data', async () => {
    const { events } = await parse([utf8('event: ping\n\nevent: x\ndata: 1\n\ndata: 2\n\n')]);
    expect(events).toEqual([
      { event: 'x', data: '1' },
      { event: undefined, data: '2' },
    ]);
  });
});
