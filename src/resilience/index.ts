import type { HeddleError } from '../errors.js';
import type { HttpSend } from '../providers/http.js';
import type { Target } from '../providers/types.js';
import { CircuitBreaker, type BreakerState, type BreakerView } from './breaker.js';
import type { ResilienceConfig } from './config.js';
import { HealthMonitor, type HealthView, type ProbeSource } from './health.js';
import { countsAgainstTarget, RetryBudget } from './retry.js';
import type { SharedBreakers, SharedOpening } from './shared.js';
import { LiveStats } from './stats.js';

// The resilience state of one process (or one Workers isolate): a breaker, health, a cool-down and live stats
// per target, and the retry budget. Created once by the entry and kept across policy reloads (keyed by target
// name); the settings are read from the policy in force at each call. The attempt loop asks `admit` before
// each attempt and reports the outcome on the ticket it got.

export interface ResilientTarget extends Target {
  /** The most requests in flight the target takes (policy); more would only queue. */
  maxConcurrent?: number | undefined;
}

/** Permission for one attempt; report exactly one outcome. */
export interface Ticket {
  readonly target: string;
  readonly startedAt: number;
  /** A half-open breaker's trial slot is held. */
  readonly trial: boolean;
  done: boolean;
}

export type Admission = { ok: true; ticket: Ticket } | { ok: false; reason: string; retryInMs: number };

export interface TargetDescription {
  target: string;
  breaker: BreakerView;
  health: HealthView;
  coolingDownMs: number;
  saturated: boolean;
  outstanding: number;
  latency_ewma_ms: number | undefined;
  tokens_per_second_ewma: number | undefined;
  reported_load: number | undefined;
}

export interface ResilienceOptions {
  http: HttpSend;
  /** Milliseconds, monotonic. */
  now: () => number;
  /** Epoch milliseconds, for breaker openings shared between isolates (default Date.now). */
  epoch?: () => number;
}

export class Resilience {
  readonly stats: LiveStats;
  readonly budget = new RetryBudget();
  readonly health: HealthMonitor;
  readonly now: () => number;
  private readonly epoch: () => number;
  private shared: SharedBreakers | undefined;
  private readonly breakers = new Map<string, CircuitBreaker>();
  /** Target -> time (ms) before which it asked not to be called (429/503 Retry-After). */
  private readonly coolUntil = new Map<string, number>();

  constructor(options: ResilienceOptions) {
    this.now = options.now;
    this.epoch = options.epoch ?? Date.now;
    this.stats = new LiveStats(options.now);
    this.health = new HealthMonitor(options.http, this.stats, options.now);
  }

  breaker(name: string): CircuitBreaker {
    let b = this.breakers.get(name);
    if (b === undefined) {
      b = new CircuitBreaker();
      this.breakers.set(name, b);
    }
    return b;
  }

  /** Why `target` may not take a request now (cool-down, breaker, health probe, saturation); undefined if it may. */
  refusal(target: ResilientTarget, cfg: ResilienceConfig): { reason: string; retryInMs: number } | undefined {
    const now = this.now();
    const name = target.name;
    const cooling = (this.coolUntil.get(name) ?? 0) - now;
    if (cooling > 0) return { reason: 'cooling down after the target asked to retry later', retryInMs: cooling };
    const breaker = this.breaker(name);
    if (!breaker.wouldAllow(now, cfg.breaker)) {
      const view = breaker.view(now, cfg.breaker);
      const why = view.state === 'open' ? 'circuit open' : 'circuit half-open, trial in flight';
      return { reason: why, retryInMs: Math.max(view.retryInMs, 1000) };
    }
    if (this.health.status(name) === 'down') {
      return { reason: `health probe failed: ${this.health.view(name).reason ?? 'down'}`, retryInMs: cfg.health.interval * 1000 };
    }
    if (this.stats.saturated(name)) return { reason: 'saturated (node queue full)', retryInMs: 1000 };
    if (target.maxConcurrent !== undefined && this.stats.outstanding(name) >= target.maxConcurrent) {
      return { reason: `saturated (${target.maxConcurrent} requests in flight)`, retryInMs: 1000 };
    }
    return undefined;
  }

  /** May an attempt go to `target` now? If so, the ticket holds its place (and a half-open trial slot). */
  admit(target: ResilientTarget, cfg: ResilienceConfig): Admission {
    const refused = this.refusal(target, cfg);
    if (refused !== undefined) return { ok: false, ...refused };
    const now = this.now();
    const name = target.name;
    const breaker = this.breaker(name);
    const trial = breaker.view(now, cfg.breaker).state === 'half_open';
    breaker.tryAcquire(now, cfg.breaker);
    this.stats.started(name);
    return { ok: true, ticket: { target: name, startedAt: now, trial, done: false } };
  }

  /** The attempt answered (or, for a stream, committed and then ended cleanly). */
  succeeded(ticket: Ticket, cfg: ResilienceConfig): void {
    if (!this.settle(ticket)) return;
    this.watch(ticket.target, cfg, (b) => b.onSuccess(this.now(), cfg.breaker, ticket.trial));
  }

  /** The attempt failed; whether that counts against the target depends on the error. */
  failed(ticket: Ticket, error: HeddleError, cfg: ResilienceConfig): void {
    if (!this.settle(ticket)) return;
    this.watch(ticket.target, cfg, (breaker) => this.judge(breaker, ticket, error, cfg));
  }

  private judge(breaker: CircuitBreaker, ticket: Ticket, error: HeddleError, cfg: ResilienceConfig): void {
    const now = this.now();
    if (error.status === 429 || (error.status === 503 && error.retryAfter !== undefined)) {
      // The target is alive and asked us to slow down: honour it without counting a failure.
      this.coolUntil.set(ticket.target, now + Math.max(error.retryAfter ?? 1, 0) * 1000);
      if (error.status === 429) {
        breaker.release(ticket.trial);
        return;
      }
    }
    if (countsAgainstTarget(error)) breaker.onFailure(now, cfg.breaker, ticket.trial);
    else if (error.code === 'cancelled') breaker.release(ticket.trial);
    else breaker.onSuccess(now, cfg.breaker, ticket.trial);
  }

  /** The attempt ended without a verdict (the client went away). */
  abandoned(ticket: Ticket): void {
    if (this.settle(ticket)) this.breaker(ticket.target).release(ticket.trial);
  }

  /** Milliseconds until `target` may be tried again (0 when it may now). */
  readyInMs(target: ResilientTarget, cfg: ResilienceConfig): number {
    const now = this.now();
    const cooling = (this.coolUntil.get(target.name) ?? 0) - now;
    if (cooling > 0) return cooling;
    const view = this.breaker(target.name).view(now, cfg.breaker);
    if (view.state === 'open') return view.retryInMs;
    if (this.health.status(target.name) === 'down') return cfg.health.interval * 1000;
    return 0;
  }

  /** Everything known about one target, for POST /v1/heddle/explain and debugging. */
  describe(name: string, cfg: ResilienceConfig): TargetDescription {
    const now = this.now();
    return {
      target: name,
      breaker: this.breaker(name).view(now, cfg.breaker),
      health: this.health.view(name),
      coolingDownMs: Math.max(0, (this.coolUntil.get(name) ?? 0) - now),
      saturated: this.stats.saturated(name),
      outstanding: this.stats.outstanding(name),
      latency_ewma_ms: this.stats.latencyEwmaMs(name),
      tokens_per_second_ewma: this.stats.tokensPerSecondEwma(name),
      reported_load: this.stats.reportedLoad(name),
    };
  }

  /** Breaker state per target, for the metrics gauge. */
  breakerStates(names: Iterable<string>, cfg: ResilienceConfig): Array<{ target: string; state: BreakerState }> {
    const now = this.now();
    return [...names].map((target) => ({ target, state: this.breaker(target).view(now, cfg.breaker).state }));
  }

  /** Starts active probes; resolves after the first round. */
  startProbes(source: ProbeSource): Promise<void> {
    return this.health.start(source);
  }

  stop(): void {
    this.health.stop();
  }

  /** Share breaker openings with other isolates (Workers, through the HeddleBreakers Durable Object). */
  share(shared: SharedBreakers): void {
    this.shared = shared;
  }

  /** Open local breakers for openings another isolate reported (what remains of their cooldown). */
  applyShared(openings: readonly SharedOpening[], cfg: ResilienceConfig): void {
    const now = this.now();
    const epoch = this.epoch();
    for (const o of openings) {
      if (o.state === 'open') this.breaker(o.target).openFor(now, o.untilEpochMs - epoch, cfg.breaker);
    }
  }

  /** Runs a breaker update and reports an open/close transition to the shared board, if any. */
  private watch(target: string, cfg: ResilienceConfig, update: (b: CircuitBreaker) => void): void {
    const breaker = this.breaker(target);
    // Without a shared board (Node) there is no transition to report: no views to build on every request.
    if (this.shared === undefined) return update(breaker);
    const before = breaker.view(this.now(), cfg.breaker);
    update(breaker);
    const after = breaker.view(this.now(), cfg.breaker);
    if (after.state === 'open' && after.opened !== before.opened) {
      this.shared.report({ target, state: 'open', untilEpochMs: this.epoch() + after.retryInMs });
    } else if (after.state === 'closed' && before.state !== 'closed') {
      this.shared.report({ target, state: 'closed', untilEpochMs: this.epoch() });
    }
  }

  private settle(ticket: Ticket): boolean {
    if (ticket.done) return false;
    ticket.done = true;
    this.stats.ended(ticket.target);
    return true;
  }
}

export type { ResilienceConfig } from './config.js';
