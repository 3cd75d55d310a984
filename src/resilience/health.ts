import * as z from 'zod';
import { timeoutAborter } from '../abort.js';
import type { HttpSend } from '../providers/http.js';
import type { Target, TargetKind } from '../providers/types.js';
import type { HealthConfig } from './config.js';
import type { LiveStats, NodeLoad } from './stats.js';

// Active health probes. Local targets are probed every `interval` with a `timeout`: FastLLM at /health (503 while
// its model loads), Ollama at /api/tags, other OpenAI-wire servers at /models; FastLLM's GET /v1/load is read on
// the same tick for least-loaded routing. Cloud targets are not probed: their breakers watch real traffic
// (passive outlier detection). A refused or reset connection or a 503 marks a target down at once. Softer
// failures (a probe timeout, another status) mark it down only after three in a row with no real request answered
// since: a node too busy to answer a probe quickly is busy, not dead (its breaker watches real timeouts), and
// marking every busy node down would turn load into an outage. One successful probe brings a target back.

export type HealthStatus = 'unknown' | 'up' | 'down';

export interface HealthView {
  status: HealthStatus;
  /** Why it is down (or the last probe failure). */
  reason: string | undefined;
  /** Milliseconds since the last probe answered or failed; undefined before the first. */
  lastProbeAgoMs: number | undefined;
  probed: boolean;
}

const CLOUD: ReadonlySet<TargetKind> = new Set(['openai', 'openrouter', 'together', 'anthropic', 'gemini']);
const SOFT_FAILURES_TO_DOWN = 3;

const loadSchema = z.looseObject({
  running: z.number().nonnegative(),
  waiting: z.number().nonnegative(),
  queue_capacity: z.number().nonnegative(),
  kv_used: z.number().nonnegative(),
  kv_capacity: z.number().nonnegative(),
});

/** The URL that says whether a target can serve, or undefined for targets only watched passively. */
export function probeUrl(target: Target): string | undefined {
  if (CLOUD.has(target.kind)) return undefined;
  if (target.kind === 'fastllm') return `${target.url}/health`;
  if (target.kind === 'ollama') return `${target.url}/api/tags`;
  return `${target.url}/models`;
}

interface Entry {
  status: HealthStatus;
  reason: string | undefined;
  softFailures: number;
  /** When the current run of soft failures began. */
  softSince: number | undefined;
  at: number | undefined;
}

export interface ProbeSource {
  /** The targets to probe now (re-read every tick, so policy reloads take effect). */
  targets(): Iterable<Target>;
  config(): HealthConfig;
}

export class HealthMonitor {
  private readonly entries = new Map<string, Entry>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;

  constructor(
    private readonly http: HttpSend,
    private readonly stats: LiveStats,
    private readonly now: () => number,
  ) {}

  status(name: string): HealthStatus {
    return this.entries.get(name)?.status ?? 'unknown';
  }

  view(name: string): HealthView {
    const e = this.entries.get(name);
    return {
      status: e?.status ?? 'unknown',
      reason: e?.reason,
      lastProbeAgoMs: e?.at === undefined ? undefined : Math.max(0, this.now() - e.at),
      probed: e !== undefined,
    };
  }

  /** Probe every probe-able target now, in parallel; resolves when all answered or timed out. */
  async probeAll(source: ProbeSource): Promise<void> {
    const cfg = source.config();
    const seen = new Set<string>();
    const probes: Promise<void>[] = [];
    for (const target of source.targets()) {
      if (seen.has(target.name)) continue;
      seen.add(target.name);
      const url = probeUrl(target);
      if (url !== undefined) probes.push(this.probe(target, url, cfg.timeout));
    }
    await Promise.all(probes);
  }

  /**
   * Probe on a timer until `stop`. The interval is re-read from the policy after every tick. Resolves when the
   * first round is done, so an entry can start serving with known health.
   */
  start(source: ProbeSource): Promise<void> {
    if (this.running) return Promise.resolve();
    this.running = true;
    const tick = async () => {
      const cfg = source.config();
      if (cfg.enabled) await this.probeAll(source).catch(() => undefined);
      if (this.running) this.timer = setTimeout(() => void tick(), cfg.interval * 1000);
    };
    return tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async probe(target: Target, url: string, timeoutSeconds: number): Promise<void> {
    const headers: Record<string, string> = { ...target.headers };
    if (target.apiKey !== undefined) headers.authorization = `Bearer ${target.apiKey}`;
    const timeout = timeoutAborter(timeoutSeconds * 1000);
    try {
      const res = await this.http({ url, method: 'GET', headers, signal: timeout.signal });
      // Read the (small) body rather than discard it: a discarded undici body emits an unhandled abort error.
      await res.text().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) this.mark(target.name, 'up', undefined, false);
      else if (res.status === 503) this.mark(target.name, 'down', `${url} answered 503 (not ready)`, true);
      else this.mark(target.name, 'down', `${url} answered ${res.status}`, false);
    } catch (err) {
      const timedOut = timeout.signal.aborted;
      const why = timedOut ? `no answer from ${url} within ${timeoutSeconds}s` : `${url} unreachable (${describe(err)})`;
      this.mark(target.name, 'down', why, !timedOut);
    } finally {
      timeout.clear();
    }
    if (target.kind === 'fastllm') await this.readLoad(target, headers, timeoutSeconds);
  }

  private async readLoad(target: Target, headers: Record<string, string>, timeoutSeconds: number): Promise<void> {
    let load: NodeLoad | undefined;
    const timeout = timeoutAborter(timeoutSeconds * 1000);
    try {
      const res = await this.http({ url: `${target.url}/v1/load`, method: 'GET', headers, signal: timeout.signal });
      if (res.status === 200) {
        const parsed = loadSchema.safeParse(JSON.parse(await res.text()));
        if (parsed.success) {
          const d = parsed.data;
          load = { running: d.running, waiting: d.waiting, queueCapacity: d.queue_capacity, kvUsed: d.kv_used, kvCapacity: d.kv_capacity };
        }
      } else {
        await res.text().catch(() => undefined);
      }
    } catch {
      // A node without /v1/load (or a dead one) reports no load; health already says the rest.
    } finally {
      timeout.clear();
    }
    this.stats.nodeLoad(target.name, load);
  }

  private mark(name: string, status: 'up' | 'down', reason: string | undefined, hard: boolean): void {
    let e = this.entries.get(name);
    if (e === undefined) {
      e = { status: 'unknown', reason: undefined, softFailures: 0, softSince: undefined, at: undefined };
      this.entries.set(name, e);
    }
    e.at = this.now();
    if (status === 'up') {
      e.status = 'up';
      e.reason = undefined;
      e.softFailures = 0;
      return;
    }
    e.reason = reason;
    if (hard) {
      e.status = 'down';
      return;
    }
    if (e.softFailures === 0) e.softSince = e.at;
    e.softFailures++;
    const answeredSince = this.stats.sinceLastSuccessMs(name) < e.at - (e.softSince ?? e.at);
    if (e.softFailures >= SOFT_FAILURES_TO_DOWN && !answeredSince) e.status = 'down';
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    if (typeof cause === 'object' && cause !== null && 'code' in cause) return String(cause.code);
    if ('code' in err && typeof err.code === 'string') return err.code;
    return err.message;
  }
  return String(err);
}
