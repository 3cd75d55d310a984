import type { BreakerConfig } from './config.js';

// One target's circuit breaker. Closed: requests flow; `failures` consecutive failures, or an error rate of at
// least `errorRate` over the last `windowSeconds` (once `minRequests` were seen), open it. Open: nothing is let
// through until `cooldownSeconds` pass. Half-open: up to `halfOpenRequests` trial requests at a time; a success
// closes it, a failure opens it again for another cooldown. Times are milliseconds from the injected clock.

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Counts per one-second slot, so the error rate is a sliding window without storing every outcome. */
class Window {
  private readonly slots: Array<{ second: number; ok: number; failed: number }> = [];

  add(nowMs: number, failed: boolean, windowSeconds: number): void {
    const second = Math.floor(nowMs / 1000);
    let last = this.slots.at(-1);
    if (last === undefined || last.second !== second) {
      last = { second, ok: 0, failed: 0 };
      this.slots.push(last);
    }
    if (failed) last.failed++;
    else last.ok++;
    this.trim(second, windowSeconds);
  }

  totals(nowMs: number, windowSeconds: number): { total: number; failed: number } {
    this.trim(Math.floor(nowMs / 1000), windowSeconds);
    let total = 0;
    let failed = 0;
    for (const s of this.slots) {
      total += s.ok + s.failed;
      failed += s.failed;
    }
    return { total, failed };
  }

  clear(): void {
    this.slots.length = 0;
  }

  private trim(second: number, windowSeconds: number): void {
    while (this.slots.length > 0 && (this.slots[0]?.second ?? second) <= second - windowSeconds) this.slots.shift();
  }
}

export interface BreakerView {
  state: BreakerState;
  consecutiveFailures: number;
  /** Failures / requests over the window. */
  errorRate: number;
  /** Milliseconds until an open breaker turns half-open (0 when not open). */
  retryInMs: number;
  trialsInFlight: number;
  /** How many times it opened since the process started. */
  opened: number;
}

export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private trials = 0;
  private openings = 0;
  private readonly window = new Window();

  /** May a request go to this target now? A half-open breaker counts the request as one of its trials. */
  tryAcquire(nowMs: number, cfg: BreakerConfig): boolean {
    this.advance(nowMs, cfg);
    if (this.state === 'closed') return true;
    if (this.state === 'open') return false;
    if (this.trials >= cfg.halfOpenRequests) return false;
    this.trials++;
    return true;
  }

  /** Would a request be let through now (no trial slot taken)? */
  wouldAllow(nowMs: number, cfg: BreakerConfig): boolean {
    this.advance(nowMs, cfg);
    return this.state === 'closed' || (this.state === 'half_open' && this.trials < cfg.halfOpenRequests);
  }

  onSuccess(nowMs: number, cfg: BreakerConfig, acquired: boolean): void {
    this.window.add(nowMs, false, cfg.windowSeconds);
    this.consecutive = 0;
    if (this.state === 'half_open') {
      if (acquired) this.trials = Math.max(0, this.trials - 1);
      this.close();
    }
  }

  onFailure(nowMs: number, cfg: BreakerConfig, acquired: boolean): void {
    this.window.add(nowMs, true, cfg.windowSeconds);
    this.consecutive++;
    if (this.state === 'half_open') {
      if (acquired) this.trials = Math.max(0, this.trials - 1);
      this.open(nowMs);
      return;
    }
    if (this.state === 'open') return;
    if (this.consecutive >= cfg.failures) {
      this.open(nowMs);
      return;
    }
    const { total, failed } = this.window.totals(nowMs, cfg.windowSeconds);
    if (total >= cfg.minRequests && failed / total >= cfg.errorRate) this.open(nowMs);
  }

  /** A trial that ended without a verdict (the client left, or the target only asked us to slow down). */
  release(acquired: boolean): void {
    if (acquired && this.state === 'half_open') this.trials = Math.max(0, this.trials - 1);
  }

  /** Another isolate found the target failing: open for what remains of its cooldown (no-op if already open). */
  openFor(nowMs: number, remainingMs: number, cfg: BreakerConfig): void {
    this.advance(nowMs, cfg);
    if (this.state === 'open' || remainingMs <= 0) return;
    this.open(nowMs - Math.max(0, cfg.cooldownSeconds * 1000 - remainingMs));
  }

  view(nowMs: number, cfg: BreakerConfig): BreakerView {
    this.advance(nowMs, cfg);
    const { total, failed } = this.window.totals(nowMs, cfg.windowSeconds);
    return {
      state: this.state,
      consecutiveFailures: this.consecutive,
      errorRate: total === 0 ? 0 : failed / total,
      retryInMs: this.state === 'open' ? Math.max(0, this.openedAt + cfg.cooldownSeconds * 1000 - nowMs) : 0,
      trialsInFlight: this.trials,
      opened: this.openings,
    };
  }

  private advance(nowMs: number, cfg: BreakerConfig): void {
    if (this.state === 'open' && nowMs - this.openedAt >= cfg.cooldownSeconds * 1000) {
      this.state = 'half_open';
      this.trials = 0;
    }
  }

  private open(nowMs: number): void {
    this.state = 'open';
    this.openedAt = nowMs;
    this.trials = 0;
    this.openings++;
  }

  private close(): void {
    this.state = 'closed';
    this.consecutive = 0;
    this.trials = 0;
    this.window.clear();
  }
}
