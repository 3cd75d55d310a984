import * as z from 'zod';
import { durationSchema } from '../policy/duration.js';

// The `resilience` section of a policy: retries and their budget, timeouts (global, per route, per target),
// circuit breakers and health probes. `compileResilience` settles defaults and overrides once per policy load,
// so the attempt loop only reads resolved numbers (seconds everywhere).

const timeoutsSchema = z.strictObject({
  /** Until the TCP/TLS connection to the target is up (Node: the undici connect timeout). */
  connect: durationSchema.optional(),
  /** Until the first content chunk of a stream, or the whole answer when not streaming. */
  first_byte: durationSchema.optional(),
  /** Between two stream chunks after commit. */
  idle: durationSchema.optional(),
  /** For one attempt, start to end. */
  total: durationSchema.optional(),
});

const overrideSchema = z.strictObject({
  timeouts: timeoutsSchema.optional(),
  /** Extra attempts after the first, across all targets (route overrides only). */
  retries: z.number().int().min(0).max(10).optional(),
});

export const resilienceSchema = z
  .strictObject({
    /** Extra attempts after the first, per request, across all targets of the route. */
    retries: z.number().int().min(0).max(10).default(2),
    backoff: z
      .strictObject({ base: durationSchema.default(0.1), max: durationSchema.default(2) })
      .default({ base: 0.1, max: 2 }),
    /** A Retry-After longer than this is not waited for: the request fails over or answers 503 at once. */
    retry_after_cap: durationSchema.default(5),
    /**
     * Retries allowed per process: `ratio` of the requests seen in the last `window`, plus `min_per_second`
     * (so a quiet gateway can still retry). Stops a failing target from multiplying load into a retry storm.
     */
    retry_budget: z
      .strictObject({
        ratio: z.number().min(0).max(10).default(0.2),
        min_per_second: z.number().min(0).default(5),
        window: durationSchema.default(10),
      })
      .default({ ratio: 0.2, min_per_second: 5, window: 10 }),
    timeouts: timeoutsSchema.default({}),
    breaker: z
      .strictObject({
        /** Consecutive failures that open the breaker. */
        failures: z.number().int().positive().default(5),
        /** Failure fraction over `window` that opens the breaker, once `min_requests` were seen in it. */
        error_rate: z.number().gt(0).max(1).default(0.5),
        min_requests: z.number().int().positive().default(20),
        window: durationSchema.default(30),
        /** Open -> half-open after this long. */
        cooldown: durationSchema.default(30),
        /** Trial requests let through while half-open. */
        half_open_requests: z.number().int().positive().default(1),
      })
      .default({ failures: 5, error_rate: 0.5, min_requests: 20, window: 30, cooldown: 30, half_open_requests: 1 }),
    health: z
      .strictObject({
        /** Active probes of local targets (fastllm /health, ollama /api/tags, OpenAI-wire /v1/models). */
        enabled: z.boolean().default(true),
        interval: durationSchema.default(10),
        timeout: durationSchema.default(2),
      })
      .default({ enabled: true, interval: 10, timeout: 2 }),
    /** Per-target overrides (a target's own timeouts win over its route's). */
    targets: z.record(z.string(), overrideSchema.omit({ retries: true })).default({}),
    /** Per-route overrides, by route name. */
    routes: z.record(z.string(), overrideSchema).default({}),
  })
  .default({
    retries: 2,
    backoff: { base: 0.1, max: 2 },
    retry_after_cap: 5,
    retry_budget: { ratio: 0.2, min_per_second: 5, window: 10 },
    timeouts: {},
    breaker: { failures: 5, error_rate: 0.5, min_requests: 20, window: 30, cooldown: 30, half_open_requests: 1 },
    health: { enabled: true, interval: 10, timeout: 2 },
    targets: {},
    routes: {},
  });

export type ResilienceFile = z.output<typeof resilienceSchema>;

export interface ResolvedTimeouts {
  connect: number;
  firstByte: number;
  idle: number;
  total: number;
}

export interface BreakerConfig {
  failures: number;
  errorRate: number;
  minRequests: number;
  windowSeconds: number;
  cooldownSeconds: number;
  halfOpenRequests: number;
}

export interface RetryConfig {
  retries: number;
  backoffBase: number;
  backoffMax: number;
  retryAfterCap: number;
}

export interface BudgetConfig {
  ratio: number;
  minPerSecond: number;
  windowSeconds: number;
}

export interface HealthConfig {
  enabled: boolean;
  interval: number;
  timeout: number;
}

/** The resolved, immutable resilience settings of one policy load. */
export interface ResilienceConfig {
  retry: RetryConfig;
  budget: BudgetConfig;
  breaker: BreakerConfig;
  health: HealthConfig;
  defaults: ResolvedTimeouts;
  /** Timeouts for one attempt: defaults <- route override <- target override. */
  timeoutsFor(route: string, target: string): ResolvedTimeouts;
  /** Retry settings for a route (its `retries` override applied). */
  retryFor(route: string): RetryConfig;
}

const DEFAULT_TIMEOUTS: ResolvedTimeouts = { connect: 10, firstByte: 60, idle: 30, total: 600 };

type TimeoutsFile = z.output<typeof timeoutsSchema>;

function overlay(base: ResolvedTimeouts, t: TimeoutsFile | undefined): ResolvedTimeouts {
  if (t === undefined) return base;
  return {
    connect: t.connect ?? base.connect,
    firstByte: t.first_byte ?? base.firstByte,
    idle: t.idle ?? base.idle,
    total: t.total ?? base.total,
  };
}

export function compileResilience(file: ResilienceFile): ResilienceConfig {
  const defaults = Object.freeze(overlay(DEFAULT_TIMEOUTS, file.timeouts));
  const retry: RetryConfig = Object.freeze({
    retries: file.retries,
    backoffBase: file.backoff.base,
    backoffMax: file.backoff.max,
    retryAfterCap: file.retry_after_cap,
  });
  const resolved = new Map<string, ResolvedTimeouts>();
  return {
    retry,
    budget: { ratio: file.retry_budget.ratio, minPerSecond: file.retry_budget.min_per_second, windowSeconds: file.retry_budget.window },
    breaker: {
      failures: file.breaker.failures,
      errorRate: file.breaker.error_rate,
      minRequests: file.breaker.min_requests,
      windowSeconds: file.breaker.window,
      cooldownSeconds: file.breaker.cooldown,
      halfOpenRequests: file.breaker.half_open_requests,
    },
    health: { ...file.health },
    defaults,
    timeoutsFor(route, target) {
      const key = `${route}\u0000${target}`;
      let t = resolved.get(key);
      if (t === undefined) {
        t = Object.freeze(overlay(overlay(defaults, file.routes[route]?.timeouts), file.targets[target]?.timeouts));
        resolved.set(key, t);
      }
      return t;
    },
    retryFor(route) {
      const retries = file.routes[route]?.retries;
      return retries === undefined ? retry : { ...retry, retries };
    },
  };
}
