import type { ResponseCache } from './cache/index.js';
import type { AuditSink } from './observability/audit.js';
import type { Metrics } from './observability/metrics.js';
import type { Policy } from './policy/compile.js';
import type { ClassifierConfig } from './privacy/config.js';
import type { HttpSend } from './providers/http.js';
import type { Resilience } from './resilience/index.js';

/** A loaded policy with what is derived from it once per load. */
export interface LoadedPolicy {
  policy: Policy;
  detectors: ClassifierConfig;
}

/** Everything the runtime-agnostic app needs, injected by the Node or Workers entry. */
export interface Deps {
  /** The policy in force now; the Node entry swaps it on reload. */
  policy: () => LoadedPolicy;
  http: HttpSend;
  /** Milliseconds, monotonic where the runtime allows. */
  now: () => number;
  audit: AuditSink;
  /** Logged problems (never request content). */
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Present where /metrics is served (Node). */
  metrics?: Metrics;
  /** Breakers, health, retry budget and live stats of this process (Workers: this isolate), kept across reloads. */
  resilience: Resilience;
  /** The response cache (stage 5); absent: every request goes to a target (x-heddle-cache: bypass). */
  cache?: ResponseCache;
  /** Request id generator. */
  newId: () => string;
  /**
   * Runs work the answer need not wait for (a request's metrics and audit line) once the answer has been sent
   * (Node: src/node/turn.ts). Absent: at once. The task handles its own errors.
   */
  afterAnswer?: (task: () => void) => void;
}
