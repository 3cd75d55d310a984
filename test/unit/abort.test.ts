import { describe, expect, it, vi } from 'vitest';
import { abortSignalOf, Aborter, linkAbort, timeoutAborter } from '../../src/abort.js';

// The Aborter stands where an AbortController's signal stood on the request path; it must behave like one there.

describe('Aborter', () => {
  it('calls each listener once, in order, and none added after or removed before', () => {
    const a = new Aborter();
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    a.addEventListener('abort', () => calls.push('first'));
    a.addEventListener('abort', removed);
    a.addEventListener('abort', () => calls.push('second'), { once: true });
    a.removeEventListener('abort', removed);
    expect(a.aborted).toBe(false);
    a.abort('why');
    a.abort('again');
    a.addEventListener('abort', () => calls.push('late'));
    expect(calls).toEqual(['first', 'second']);
    expect([a.aborted, a.reason]).toEqual([true, 'why']);
    expect(a.signal).toBe(a);
  });

  it('gives an AbortError without a reason, as AbortController does', () => {
    const a = new Aborter();
    a.abort();
    const ours = a.reason as DOMException;
    const controller = new AbortController();
    controller.abort();
    const theirs = controller.signal.reason as DOMException;
    expect([ours.name, ours.message]).toEqual([theirs.name, theirs.message]);
  });

  it('keeps calling the other listeners when one throws, and reports the error', async () => {
    const a = new Aborter();
    const calls: string[] = [];
    a.addEventListener('abort', () => {
      throw new Error('listener failed');
    });
    a.addEventListener('abort', () => calls.push('after'));
    const reported = new Promise<unknown>((resolve) => {
      const original = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (err) => {
        for (const l of original) process.on('uncaughtException', l);
        resolve(err);
      });
    });
    a.abort();
    expect(calls).toEqual(['after']);
    expect(((await reported) as Error).message).toBe('listener failed');
  });

  it('links to a client signal, real or not, already aborted or later', () => {
    const controller = new AbortController();
    const linked = linkAbort(controller.signal);
    controller.abort('left');
    expect([linked.aborted, linked.reason]).toEqual([true, 'left']);
    const parent = new Aborter();
    parent.abort('gone');
    expect(linkAbort(parent).reason).toBe('gone');
    // A link's own abort (a stream's cancel) leaves the client's signal alone.
    const client = new Aborter();
    linkAbort(client).abort();
    expect(client.aborted).toBe(false);
  });

  it('times out as AbortSignal.timeout does, unless cleared first', async () => {
    vi.useFakeTimers();
    try {
      const timed = timeoutAborter(2000);
      const cleared = timeoutAborter(2000);
      vi.advanceTimersByTime(1999);
      expect(timed.signal.aborted).toBe(false);
      cleared.clear();
      vi.advanceTimersByTime(1);
      expect(cleared.signal.aborted).toBe(false);
      expect(timed.signal.aborted).toBe(true);
      const ours = timed.signal.reason as DOMException;
      vi.useRealTimers();
      const real = AbortSignal.timeout(1);
      await new Promise((r) => real.addEventListener('abort', r, { once: true }));
      const theirs = real.reason as DOMException;
      expect([ours.name, ours.message]).toEqual([theirs.name, theirs.message]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('becomes a real AbortSignal for fetch', () => {
    const controller = new AbortController();
    expect(abortSignalOf(controller.signal)).toBe(controller.signal);
    const a = new Aborter();
    const signal = abortSignalOf(a);
    expect(signal).toBeInstanceOf(AbortSignal);
    a.abort('stop');
    expect([signal.aborted, signal.reason]).toEqual([true, 'stop']);
  });
});
