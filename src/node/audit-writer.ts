import { write } from 'node:fs';

// Audit lines to a file descriptor (stdout by default) without ever blocking the event loop on it. A synchronous
// write to a pipe whose reader is slow (a log shipper, a paused terminal) or to a file under dirty-page
// throttling stalls every request in flight; here the lines of up to FLUSH_MS are joined and handed to fs.write
// (libuv's thread pool), one write in flight at a time, so lines stay in order. Batching by time rather than by
// event-loop turn or by write completion keeps the thread-pool round trips to ~20/s whatever the request rate
// (writing again as soon as the last write completed made a write every turn or two under load). While the sink
// lags, lines wait in memory up to `maxPendingChars`; past that they are dropped and counted (a warning says how
// many when the sink catches up), because a gateway that grows without bound or stops answering is worse than a
// gap in its log. A sink that is gone (EPIPE, EBADF) ends the writer; the gateway keeps serving.

/** fs.write's callback form, the one call the writer makes (tests count the calls). */
export type WriteFn = (
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: null,
  callback: (err: NodeJS.ErrnoException | null, written: number) => void,
) => void;

export interface AuditWriterOptions {
  /** Characters of lines (UTF-16 units; bytes for ASCII) waiting for the sink before new ones are dropped. */
  maxPendingChars?: number;
  /** Where problems with the sink are reported (never the lines themselves). */
  warn: (message: string, fields: Record<string, unknown>) => void;
  /** Default: node:fs write. */
  write?: WriteFn;
}

/**
 * How long lines gather before they are written. Each hand-off to the thread pool costs the event loop's core a
 * wake-up and a context switch (~0.2 ms where the gateway is pinned to one core): at 10 ms that was ~11 us per
 * request under load (bench/overhead: 433 against 422 us per request with 50 ms, in one run). A line reaches the
 * sink at most this late.
 */
export const FLUSH_MS = 50;
/** Retry delay when a non-blocking sink is full (EAGAIN): the reader gets time to drain it. */
const RETRY_MS = 10;

export class AuditWriter {
  /** Lines not yet handed to the sink, each ending in a newline. */
  private waiting = '';
  /** Characters of the write in flight (0 when none). */
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Called once nothing is pending (see drained). */
  private onIdle: (() => void) | undefined;
  private dropped = 0;
  private readonly maxPendingChars: number;
  private readonly write: WriteFn;

  constructor(
    private readonly fd: number,
    private readonly options: AuditWriterOptions,
  ) {
    this.maxPendingChars = options.maxPendingChars ?? 16 * 1024 * 1024;
    this.write = options.write ?? write;
  }

  /** Adds one line (without its newline). */
  line(text: string): void {
    if (this.closed) return;
    if (this.pendingChars() + text.length >= this.maxPendingChars) {
      this.dropped++;
      return;
    }
    this.waiting += `${text}\n`;
    // While a write is in flight its completion schedules what waits; otherwise a flush FLUSH_MS from the first line.
    if (this.inFlight === 0) this.timer ??= setTimeout(this.flush, FLUSH_MS);
  }

  /** Characters accepted but not yet written. */
  pendingChars(): number {
    return this.waiting.length + this.inFlight;
  }

  /**
   * Resolves once every accepted line is written (or the sink is gone), for a clean shutdown; at the latest after
   * `maxWaitMs`, so a stuck sink cannot hold the shutdown.
   */
  drained(maxWaitMs = 2000): Promise<void> {
    if (this.pendingChars() === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxWaitMs).unref();
      const previous = this.onIdle;
      this.onIdle = () => {
        previous?.();
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    if (this.closed || this.inFlight !== 0 || this.waiting === '') return;
    const text = this.waiting;
    this.waiting = '';
    this.inFlight = text.length;
    this.writeAll(Buffer.from(text, 'utf8'));
  };

  /** Writes `buf` to the end (write(2) may take part of it), then whatever waited meanwhile. */
  private writeAll(buf: Buffer): void {
    this.write(this.fd, buf, 0, buf.length, null, (err, written) => {
      if (err) {
        if (err.code === 'EAGAIN') {
          setTimeout(() => this.writeAll(buf), RETRY_MS);
          return;
        }
        this.close(err);
        return;
      }
      if (written < buf.length) {
        this.writeAll(buf.subarray(written));
        return;
      }
      this.inFlight = 0;
      if (this.dropped > 0 && this.pendingChars() < this.maxPendingChars / 2) {
        this.options.warn('audit lines dropped: the audit sink did not keep up', { dropped: this.dropped });
        this.dropped = 0;
      }
      if (this.waiting !== '') this.timer ??= setTimeout(this.flush, FLUSH_MS);
      this.notifyIdle();
    });
  }

  private notifyIdle(): void {
    if (this.pendingChars() !== 0 || this.onIdle === undefined) return;
    const onIdle = this.onIdle;
    this.onIdle = undefined;
    onIdle();
  }

  private close(err: NodeJS.ErrnoException): void {
    this.closed = true;
    this.waiting = '';
    this.inFlight = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.options.warn('audit sink failed; audit lines are no longer written', { code: err.code ?? String(err) });
    this.notifyIdle();
  }
}
