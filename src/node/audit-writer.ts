import { write } from 'node:fs';

// Audit lines to a file descriptor (stdout by default) without ever blocking the event loop on it. A synchronous
// write to a pipe whose reader is slow (a log shipper, a paused terminal) or to a file under dirty-page
// throttling stalls every request in flight; here the lines of up to FLUSH_MS are joined and handed to fs.write
// (libuv's thread pool), one write in flight at a time, so lines stay in order. Batching by time rather than by
// event-loop turn keeps the thread-pool round trips to ~100/s whatever the request rate. While the sink lags,
// lines wait in memory up to `maxPendingBytes`; past that they are dropped and counted (a warning says how many
// when the sink catches up), because a gateway that grows without bound or stops answering is worse than a gap in
// its log. A sink that is gone (EPIPE, EBADF) ends the writer; the gateway keeps serving.

export interface AuditWriterOptions {
  /** Bytes of lines waiting for the sink before new ones are dropped. */
  maxPendingBytes?: number;
  /** Where problems with the sink are reported (never the lines themselves). */
  warn: (message: string, fields: Record<string, unknown>) => void;
}

/** How long lines gather before they are written. */
const FLUSH_MS = 10;
/** Retry delay when a non-blocking sink is full (EAGAIN): the reader gets time to drain it. */
const RETRY_MS = 10;

export class AuditWriter {
  /** Gathered lines, joined per flush, oldest first, waiting for the write in flight. */
  private queue: string[] = [];
  private queuedBytes = 0;
  /** Lines gathered since the last flush. */
  private gathered: string[] = [];
  private writing = false;
  private closed = false;
  /** Called once nothing is pending (see drained). */
  private onIdle: (() => void) | undefined;
  private dropped = 0;
  private readonly maxPendingBytes: number;

  constructor(
    private readonly fd: number,
    private readonly options: AuditWriterOptions,
  ) {
    this.maxPendingBytes = options.maxPendingBytes ?? 16 * 1024 * 1024;
  }

  /** Adds one line (without its newline). */
  line(text: string): void {
    if (this.closed) return;
    if (this.queuedBytes + text.length >= this.maxPendingBytes) {
      this.dropped++;
      return;
    }
    if (this.gathered.length === 0) setTimeout(this.flush, FLUSH_MS);
    this.gathered.push(text);
    this.queuedBytes += text.length + 1;
  }

  /** Bytes accepted but not yet written. */
  pendingBytes(): number {
    return this.queuedBytes;
  }

  /**
   * Resolves once every accepted line is written (or the sink is gone), for a clean shutdown; at the latest after
   * `maxWaitMs`, so a stuck sink cannot hold the shutdown.
   */
  drained(maxWaitMs = 2000): Promise<void> {
    if (this.queuedBytes === 0) return Promise.resolve();
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
    if (this.gathered.length === 0) return;
    this.queue.push(`${this.gathered.join('\n')}\n`);
    this.gathered = [];
    this.pump();
  };

  private pump(): void {
    if (this.writing || this.closed || this.queue.length === 0) return;
    const text = this.queue.length === 1 ? (this.queue[0] as string) : this.queue.join('');
    this.queue = [];
    this.writing = true;
    this.writeAll(Buffer.from(text, 'utf8'), text.length);
  }

  /** Writes `buf` to the end (write(2) may take part of it), then releases `chars` of the pending count. */
  private writeAll(buf: Buffer, chars: number): void {
    write(this.fd, buf, 0, buf.length, null, (err, written) => {
      if (err) {
        if (err.code === 'EAGAIN') {
          setTimeout(() => this.writeAll(buf, chars), RETRY_MS);
          return;
        }
        this.close(err);
        return;
      }
      if (written < buf.length) {
        this.writeAll(buf.subarray(written), chars);
        return;
      }
      this.writing = false;
      this.queuedBytes -= chars;
      if (this.dropped > 0 && this.queuedBytes < this.maxPendingBytes / 2) {
        this.options.warn('audit lines dropped: the audit sink did not keep up', { dropped: this.dropped });
        this.dropped = 0;
      }
      this.pump();
      this.notifyIdle();
    });
  }

  private notifyIdle(): void {
    if (this.queuedBytes !== 0 || this.onIdle === undefined) return;
    const onIdle = this.onIdle;
    this.onIdle = undefined;
    onIdle();
  }

  private close(err: NodeJS.ErrnoException): void {
    this.closed = true;
    this.writing = false;
    this.queue = [];
    this.gathered = [];
    this.queuedBytes = 0;
    this.options.warn('audit sink failed; audit lines are no longer written', { code: err.code ?? String(err) });
    this.notifyIdle();
  }
}
