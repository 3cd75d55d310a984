import { Aborter, type AbortLike } from '../abort.js';
import { HeddleError } from '../errors.js';

// One attempt's abort controller with its timeouts: the total timeout runs from the start; `arm` (re)starts the
// phase timeout (first byte, then idle between chunks). Whichever expires first aborts the upstream call with a
// retryable timeout error naming it. The client leaving aborts it too.
//
// One timer serves both timeouts, and it is lazy: re-arming the idle timeout for every chunk of a stream only
// moves a number; the timer, when it fires early, sets itself again for what is left. A JSON answer costs one
// setTimeout and one clearTimeout, a stream about one per idle period instead of two per chunk.

export type Phase = 'first_byte' | 'idle';

/** Timers fire on the event loop's clock, which can run up to a millisecond behind performance.now(). */
const SLACK_MS = 1;

export class Deadline {
  private readonly controller = new Aborter();
  private readonly totalAt: number;
  private phase: Phase | undefined;
  private phaseSeconds = 0;
  private phaseAt = Infinity;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the pending timer fires. */
  private timerAt = Infinity;
  private readonly onClientAbort = () => this.controller.abort(this.parent.reason);

  constructor(
    private readonly target: string,
    private readonly parent: AbortLike,
    private readonly totalSeconds: number,
    firstByteSeconds: number,
  ) {
    this.totalAt = performance.now() + totalSeconds * 1000;
    parent.addEventListener('abort', this.onClientAbort, { once: true });
    this.arm(firstByteSeconds, 'first_byte');
  }

  get signal(): AbortLike {
    return this.controller;
  }

  /** (Re)starts the phase timeout: it expires `seconds` from now unless armed again or released first. */
  arm(seconds: number, phase: Phase): void {
    this.phase = phase;
    this.phaseSeconds = seconds;
    this.phaseAt = performance.now() + seconds * 1000;
    // A pending timer that fires no later than needed stays: it will find the phase moved and set itself again.
    if (this.timer === undefined || this.timerAt > Math.min(this.phaseAt, this.totalAt)) this.schedule();
  }

  /** Ends the phase timeout; the total one still runs (a committed stream until its end). */
  release(): void {
    this.phase = undefined;
    this.phaseAt = Infinity;
  }

  /** Ends both timeouts and stops following the client. */
  finish(): void {
    this.release();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.parent.removeEventListener('abort', this.onClientAbort);
  }

  private schedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = Math.min(this.phaseAt, this.totalAt);
    this.timer = setTimeout(this.fire, Math.max(0, this.timerAt - performance.now()));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    if (this.controller.aborted) return;
    const now = performance.now() + SLACK_MS;
    if (now >= this.totalAt) this.expire('total', this.totalSeconds);
    else if (this.phase !== undefined && now >= this.phaseAt) this.expire(this.phase, this.phaseSeconds);
    else this.schedule();
  };

  private expire(phase: Phase | 'total', seconds: number): void {
    this.controller.abort(
      new HeddleError({
        status: 504,
        type: 'timeout_error',
        code: `timeout_${phase}`,
        message: `Target '${this.target}' exceeded the ${phase.replace('_', ' ')} timeout of ${seconds}s.`,
        target: this.target,
        retryable: true,
      }),
    );
  }
}
