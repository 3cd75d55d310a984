import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Aborter } from '../../../src/abort.js';
import { HeddleError } from '../../../src/errors.js';
import { Deadline } from '../../../src/routing/deadline.js';

// One attempt's timeouts on one lazy timer: whichever of the phase (first byte, idle) and total timeouts comes
// first aborts the call, naming it; re-arming the idle timeout keeps a live stream going; release leaves only the
// total; finish and the client's own abort behave as before. Fake timers, so the clock is exact.

beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
afterEach(() => vi.useRealTimers());

const code = (d: Deadline) => (d.signal.reason instanceof HeddleError ? d.signal.reason.code : d.signal.aborted ? 'aborted' : null);

describe('Deadline', () => {
  it('expires the first-byte timeout when nothing arrives', () => {
    const d = new Deadline('t', new Aborter(), 600, 2);
    vi.advanceTimersByTime(1999);
    expect(code(d)).toBeNull();
    vi.advanceTimersByTime(1);
    expect(code(d)).toBe('timeout_first_byte');
    expect((d.signal.reason as HeddleError).message).toBe("Target 't' exceeded the first byte timeout of 2s.");
    expect((d.signal.reason as HeddleError).retryable).toBe(true);
  });

  it('keeps a stream alive while chunks arrive within the idle timeout, and expires it when they stop', () => {
    const d = new Deadline('t', new Aborter(), 600, 5);
    vi.advanceTimersByTime(1000);
    for (let i = 0; i < 50; i++) {
      d.arm(3, 'idle');
      vi.advanceTimersByTime(2500);
    }
    expect(code(d)).toBeNull();
    vi.advanceTimersByTime(499);
    expect(code(d)).toBeNull();
    vi.advanceTimersByTime(1);
    expect(code(d)).toBe('timeout_idle');
  });

  it('expires the total timeout even while the stream keeps moving', () => {
    const d = new Deadline('t', new Aborter(), 10, 5);
    for (let i = 0; i < 9; i++) {
      d.arm(3, 'idle');
      vi.advanceTimersByTime(1000);
    }
    expect(code(d)).toBeNull();
    d.arm(3, 'idle');
    vi.advanceTimersByTime(1000);
    expect(code(d)).toBe('timeout_total');
  });

  it('re-arming with a shorter timeout takes effect at once', () => {
    const d = new Deadline('t', new Aborter(), 600, 60);
    vi.advanceTimersByTime(100);
    d.arm(1, 'idle');
    vi.advanceTimersByTime(1000);
    expect(code(d)).toBe('timeout_idle');
  });

  it('after release only the total timeout runs', () => {
    const d = new Deadline('t', new Aborter(), 20, 2);
    vi.advanceTimersByTime(1000);
    d.release();
    vi.advanceTimersByTime(18_999);
    expect(code(d)).toBeNull();
    vi.advanceTimersByTime(1);
    expect(code(d)).toBe('timeout_total');
  });

  it('finish stops every timer and the link to the client', () => {
    const client = new Aborter();
    const d = new Deadline('t', client, 5, 1);
    d.finish();
    vi.advanceTimersByTime(10_000);
    client.abort();
    expect(d.signal.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('follows the client leaving, with its reason', () => {
    const client = new Aborter();
    const d = new Deadline('t', client, 5, 1);
    const reason = new Error('gone');
    client.abort(reason);
    expect(d.signal.reason).toBe(reason);
    vi.advanceTimersByTime(10_000);
    expect(d.signal.reason).toBe(reason);
  });

  it('uses one timer however often the idle timeout is re-armed', () => {
    const d = new Deadline('t', new Aborter(), 600, 5);
    for (let i = 0; i < 1000; i++) {
      d.arm(30, 'idle');
      vi.advanceTimersByTime(10);
    }
    expect(vi.getTimerCount()).toBe(1);
    d.finish();
  });
});
