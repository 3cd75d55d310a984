import { write } from 'node:fs';

// Audit lines to a file descriptor (stdout by default) without ever blocking the event loop on it. A synchronous
// write to a pipe whose reader is slow (a log shipper, a paused terminal) or to a file under dirty-page
// throttling stalls every request in flight; here the lines of up to FLUSH_MS are joined and handed to fs.write
// (libuv's thread pool), one write in flight at a time, so lines stay in order. Batching by time rather than by
// event-loop turn or by write completion keeps the thread-pool round trips to ~20/s whatever the request rate
// (writing again as soon as the last write completed made a write every turn or two under load). Lines wait as
// UTF-8 bytes in buffers outside the JS heap: kept as strings, the ~50 ms of lines between writes (hundreds under
// load) survived young-generation collections and were copied by each: a quarter of the gateway's GC pause time.
// While the sink lags, lines wait up to `maxPendingBytes`; past that they are dropped and counted (a warning says
// how many when the sink catches up), because a gateway that grows without bound or stops answering is worse than
// a gap in its log. A sink that is gone (EPIPE, EBADF) ends the writer; the gateway keeps serving.

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
  /** Bytes of lines waiting for the sink before new ones are dropped. */
  maxPendingBytes?: number;
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
/** Size of the buffers lines are written into (a longer line gets one of its own). */
const CHUNK_BYTES = 64 * 1024;

export class AuditWriter {
  /** Lines not yet handed to the sink, as UTF-8 with a newline each; the last buffer filled up to `fill`. */
  private waiting: Buffer[] = [];
  private fill = 0;
  private waitingBytes = 0;
  /** Bytes of the write in flight (0 when none). */
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Called once nothing is pending (see drained). */
  private onIdle: (() => void) | undefined;
  private dropped = 0;
  private readonly maxPendingBytes: number;
  private readonly write: WriteFn;

  constructor(
    private readonly fd: number,
    private readonly options: AuditWriterOptions,
  ) {
    this.maxPendingBytes = options.maxPendingBytes ?? 16 * 1024 * 1024;
    this.write = options.write ?? write;
  }

  /** Adds one line (without its newline). */
  line(text: string): void {
    if (this.closed) return;
    // text.length: the line's bytes when ASCII (audit JSON nearly always is), a lower bound otherwise.
    if (this.pendingBytes() + text.length >= this.maxPendingBytes) {
      this.dropped++;
      return;
    }
    this.append(text);
    // While a write is in flight its completion schedules what waits; otherwise a flush FLUSH_MS from the first line.
    if (this.inFlight === 0) this.timer ??= setTimeout(this.flush, FLUSH_MS);
  }

  /** Bytes accepted but not yet written. */
  pendingBytes(): number {
    return this.waitingBytes + this.inFlight;
  }

  /**
   * Resolves once every accepted line is written (or the sink is gone), for a clean shutdown; at the latest after
   * `maxWaitMs`, so a stuck sink cannot hold the shutdown.
   */
  drained(maxWaitMs = 2000): Promise<void> {
    if (this.pendingBytes() === 0) return Promise.resolve();
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

  /** Encodes the line and its newline at the end of the last buffer, or into a new one where it does not fit. */
  private append(text: string): void {
    const room = text.length * 3 + 1; // UTF-8 takes at most 3 bytes per UTF-16 unit
    let last = this.waiting.at(-1);
    if (last === undefined || last.length - this.fill < room) {
      if (last !== undefined) this.waiting[this.waiting.length - 1] = last.subarray(0, this.fill);
      last = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, room));
      this.waiting.push(last);
      this.fill = 0;
    }
    const bytes = last.write(text, this.fill);
    last[this.fill + bytes] = 0x0a;
    this.fill += bytes + 1;
    this.waitingBytes += bytes + 1;
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    if (this.closed || this.inFlight !== 0 || this.waitingBytes === 0) return;
    const chunks = this.waiting;
    chunks[chunks.length - 1] = (chunks.at(-1) as Buffer).subarray(0, this.fill);
    this.waiting = [];
    this.fill = 0;
    this.inFlight = this.waitingBytes;
    this.waitingBytes = 0;
    // New lines go to new buffers: the ones handed to the sink are never written into again.
    this.writeAll(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.inFlight));
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
      if (this.dropped > 0 && this.pendingBytes() < this.maxPendingBytes / 2) {
        this.options.warn('audit lines dropped: the audit sink did not keep up', { dropped: this.dropped });
        this.dropped = 0;
      }
      if (this.waitingBytes !== 0) this.timer ??= setTimeout(this.flush, FLUSH_MS);
      this.notifyIdle();
    });
  }

  private notifyIdle(): void {
    if (this.pendingBytes() !== 0 || this.onIdle === undefined) return;
    const onIdle = this.onIdle;
    this.onIdle = undefined;
    onIdle();
  }

  private close(err: NodeJS.ErrnoException): void {
    this.closed = true;
    this.waiting = [];
    this.fill = 0;
    this.waitingBytes = 0;
    this.inFlight = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.options.warn('audit sink failed; audit lines are no longer written', { code: err.code ?? String(err) });
    this.notifyIdle();
  }
}
