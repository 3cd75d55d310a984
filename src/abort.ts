// Cancellation on the request path. The stages take an AbortLike, the part of AbortSignal they use: a real signal
// fits (Hono's request signal, Workers), and so does an Aborter, a plain object with a list of listeners. On
// Node 20 an AbortController's signal costs microseconds to create and to listen to (an EventTarget), and the hot
// path would make two per request (the client's, and each attempt's deadline); undici takes an Aborter as it is.

export interface AbortLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** An abort controller that is its own signal. Aborts once; every listener is called once, in order. */
export class Aborter implements AbortLike {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | undefined;

  get signal(): AbortLike {
    return this;
  }

  /** Without a reason, an AbortError DOMException, as AbortController gives. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch (err) {
        // As an EventTarget does: one failing listener neither stops the others nor the caller.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** Every listener is called once anyway, so `once` changes nothing. */
  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (!this.aborted) (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    if (listeners === undefined) return;
    const i = listeners.indexOf(listener);
    if (i !== -1) listeners.splice(i, 1);
  }
}

/**
 * An Aborter that aborts itself after `ms` (with a TimeoutError, as AbortSignal.timeout does) unless `clear`ed first.
 * For calls that share the upstream client with the request path (health probes): a real AbortSignal there is an
 * object of another shape in undici's hot functions, which V8 then deoptimizes, and re-optimizing them takes the
 * gateway's core for seconds under load (bench/results/tail-1000rps.md).
 */
export function timeoutAborter(ms: number): { signal: Aborter; clear(): void } {
  const signal = new Aborter();
  const timer = setTimeout(() => signal.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), ms);
  return { signal, clear: () => clearTimeout(timer) };
}

/**
 * An Aborter that follows the client's signal and that a stream's cancel can also abort: either way the upstream
 * call stops.
 */
export function linkAbort(client: AbortLike): Aborter {
  const aborter = new Aborter();
  if (client.aborted) aborter.abort(client.reason);
  else client.addEventListener('abort', () => aborter.abort(client.reason), { once: true });
  return aborter;
}

/** A real AbortSignal following `signal`, for web APIs that need one (fetch). */
export function abortSignalOf(signal: AbortLike): AbortSignal {
  if (signal instanceof AbortSignal) return signal;
  const controller = new AbortController();
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  return controller.signal;
}
