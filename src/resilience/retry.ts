import type { HeddleError } from '../errors.js';
import type { BudgetConfig, RetryConfig } from './config.js';

// Retry policy, in one place: which failures another attempt may fix, how long to wait before the next round,
// how Retry-After is honoured, and the process-wide budget that keeps a failing target from causing a retry storm.
// The attempt loop asks this module; nothing else decides to retry.

/** Error codes, set by the adapters, of failures another attempt (here or elsewhere) may fix. */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'upstream_unreachable', // connection refused, reset, DNS
  'upstream_invalid_response', // malformed JSON or SSE, a connection cut while reading
  'upstream_stream_error', // an error event inside the stream before commit
  'timeout_first_byte',
  'timeout_idle',
  'timeout_total',
]);

/** HTTP statuses from a target that another attempt may fix: 408, 429 and every 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** May another attempt fix this? Client mistakes (other 4xx) relayed by a target are final. */
export function shouldRetry(error: HeddleError): boolean {
  if (error.target === undefined) return false;
  if (error.code !== null && RETRYABLE_CODES.has(error.code)) return true;
  return error.code === 'upstream_error' && isRetryableStatus(error.status);
}

/** Does this failure say something about the target's health (as opposed to "slow down" or "bad request")? */
export function countsAgainstTarget(error: HeddleError): boolean {
  return shouldRetry(error) && error.status !== 429;
}

/** Seconds the target asked us to wait (Retry-After), when it did. */
export function requestedWait(error: HeddleError): number | undefined {
  return error.retryAfter;
}

/**
 * Seconds to wait before retry round `round` (1 = the first retry): exponential from `backoffBase`, capped at
 * `backoffMax`, with full jitter so that clients failing together do not come back together.
 */
export function backoffSeconds(round: number, cfg: RetryConfig, random: () => number = Math.random): number {
  const ceiling = Math.min(cfg.backoffMax, cfg.backoffBase * 2 ** Math.max(0, round - 1));
  return ceiling * random();
}

/**
 * Process-wide retry budget over a sliding window: each request deposits `ratio` retries, and `minPerSecond`
 * retries are always allowed, so retries can add at most `ratio` extra load (plus the reserve) however many
 * targets fail. Counted in one-second slots.
 */
export class RetryBudget {
  private readonly slots: Array<{ second: number; requests: number; retries: number }> = [];
  private exhaustedCount = 0;

  /** Record a request's first attempt. */
  onRequest(nowMs: number, cfg: BudgetConfig): void {
    this.slot(nowMs, cfg).requests++;
  }

  /** Take one retry from the budget; false when it is spent. */
  tryRetry(nowMs: number, cfg: BudgetConfig): boolean {
    const current = this.slot(nowMs, cfg);
    let requests = 0;
    let retries = 0;
    for (const s of this.slots) {
      requests += s.requests;
      retries += s.retries;
    }
    const allowed = cfg.minPerSecond * cfg.windowSeconds + cfg.ratio * requests;
    if (retries + 1 > allowed) {
      this.exhaustedCount++;
      return false;
    }
    current.retries++;
    return true;
  }

  /** How many retries were refused for want of budget since the process started. */
  get exhausted(): number {
    return this.exhaustedCount;
  }

  private slot(nowMs: number, cfg: BudgetConfig): { second: number; requests: number; retries: number } {
    const second = Math.floor(nowMs / 1000);
    while (this.slots.length > 0 && (this.slots[0]?.second ?? second) <= second - cfg.windowSeconds) this.slots.shift();
    let last = this.slots.at(-1);
    if (last === undefined || last.second !== second) {
      last = { second, requests: 0, retries: 0 };
      this.slots.push(last);
    }
    return last;
  }
}
