import { describe, expect, it } from 'vitest';
import { Aborter } from '../../../src/abort.js';
import type { Deps } from '../../../src/deps.js';
import type { ChatChunk } from '../../../src/dialects/openai/schema.js';
import { HeddleError } from '../../../src/errors.js';
import type { AuditRecord } from '../../../src/observability/audit.js';
import { RequestTrace } from '../../../src/spine.js';
import { StreamBody, type StreamWriter } from '../../../src/stream/respond.js';

// StreamBody is what both runtimes drive (a web ReadableStream on Hono and Workers, the ServerResponse on Node's
// fast path): bytes per chunk, the dialect's end or error bytes, and a cancel that stops the upstream read.

const text = new TextEncoder();
const writer: StreamWriter = {
  contentType: 'text/plain',
  chunk: (c) => (c.choices.length === 0 ? [] : [text.encode(`${c.choices[0]?.delta.content ?? ''}|`)]),
  end: () => [text.encode('END')],
  error: (e) => text.encode(`ERROR ${e.status}`),
};

const chunk = (content: string | null): ChatChunk => ({
  id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm',
  choices: content === null ? [] : [{ index: 0, delta: { content }, finish_reason: null }],
});

function trace(audit: AuditRecord[]): RequestTrace {
  const deps = { newId: () => 'id', now: () => 0, audit: (r: AuditRecord) => audit.push(r) } as unknown as Deps;
  return new RequestTrace(deps, 'chat', 'm', true);
}

const decode = (steps: { bytes: Uint8Array[] }[]) => steps.flatMap((s) => s.bytes.map((b) => new TextDecoder().decode(b))).join('');

describe('StreamBody', () => {
  it('gives the bytes of each chunk that has any, then the end, and records a 200', async () => {
    const audit: AuditRecord[] = [];
    async function* chunks() {
      yield chunk('a');
      yield chunk(null); // nothing to send: read on at once
      yield chunk('b');
    }
    const body = new StreamBody(chunks(), writer, trace(audit), new Aborter());
    const steps = [await body.next(), await body.next(), await body.next()];
    expect(decode(steps)).toBe('a|b|END');
    expect(steps.map((s) => s.done)).toEqual([false, false, true]);
    expect(audit.map((r) => r.status)).toEqual([200]);
  });

  it('gives the chunks before the first content in one step with it, so they leave with the head in one write', async () => {
    const roleOnly: ChatChunk = { ...chunk(''), choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] };
    async function* chunks() {
      yield roleOnly;
      yield roleOnly;
      yield chunk('a');
      yield chunk(''); // after the first content, every chunk with bytes is a step of its own
      yield chunk('b');
    }
    const body = new StreamBody(chunks(), writer, trace([]), new Aborter());
    const steps = [await body.next(), await body.next(), await body.next(), await body.next()];
    expect(steps.map((s) => s.bytes.map((b) => new TextDecoder().decode(b)))).toEqual([['|', '|', 'a|'], ['|'], ['b|'], ['END']]);
    expect(steps.map((s) => s.done)).toEqual([false, false, false, true]);
  });

  it('ends a stream that breaks before its first content with the held chunks and the error bytes', async () => {
    async function* chunks() {
      yield chunk('');
      throw new HeddleError({ status: 504, type: 'upstream_error', message: 'idle', code: 'upstream_timeout' });
    }
    const body = new StreamBody(chunks(), writer, trace([]), new Aborter());
    const step = await body.next();
    expect(decode([step])).toBe('|ERROR 504');
    expect(step.done).toBe(true);
  });

  it("ends a broken stream with the writer's error bytes, never by throwing", async () => {
    const audit: AuditRecord[] = [];
    async function* chunks() {
      yield chunk('a');
      throw new HeddleError({ status: 502, type: 'upstream_error', message: 'broke', code: 'upstream_invalid_response' });
    }
    const body = new StreamBody(chunks(), writer, trace(audit), new Aborter());
    const steps = [await body.next(), await body.next()];
    expect(decode(steps)).toBe('a|ERROR 502');
    expect(steps[1]?.done).toBe(true);
    expect(audit.map((r) => [r.status, r.error_code])).toEqual([[502, 'upstream_invalid_response']]);
  });

  it('on cancel aborts the upstream, records a 499, and resolves even when closing the upstream read fails', async () => {
    const audit: AuditRecord[] = [];
    const abort = new Aborter();
    const failingClose: AsyncIterable<ChatChunk> = {
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.resolve({ done: false, value: chunk('a') }),
        return: () => Promise.reject(new Error('socket already gone')),
      }),
    };
    const body = new StreamBody(failingClose, writer, trace(audit), abort);
    await body.next();
    await expect(body.cancel()).resolves.toBeUndefined();
    expect(abort.aborted).toBe(true);
    expect(audit.map((r) => r.status)).toEqual([499]);
  });
});
