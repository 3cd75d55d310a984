// Load generator child process. Prints one JSON line with its result on stdout.
//   mode "rate": open-loop constant arrival rate (requests are sent on schedule whatever the answers do),
//                per-request latency from the moment the request is issued to the last body byte.
//   mode "ttfb": streamed requests, `concurrency` at a time; time to the first body byte carrying SSE data,
//                and to the first byte of actual content (first non-empty delta); that time split at the upstream
//                by the clock stamps in the upstream's first content chunk (before: send -> body at the upstream;
//                after: content written by the upstream -> content here).
// Config comes as JSON in argv[2].
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

interface Common {
  url: string; // origin + path
  headers: Record<string, string>;
  body: string;
  connections: number;
}
interface RateConfig extends Common {
  mode: 'rate';
  rate: number;
  durationS: number;
  warmupS: number;
  /** Also print every measured request's latency (ms, to the microsecond), for pooling slices (interleaved.ts). */
  latencies?: boolean;
}
interface TtfbConfig extends Common {
  mode: 'ttfb';
  requests: number;
  warmup: number;
  /** Streams in flight during the warm-up. */
  warmupConcurrency: number;
  concurrency: number;
}
type Config = RateConfig | TtfbConfig;

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
const u = new URL(cfg.url);
const pool = new Pool(u.origin, { connections: cfg.connections, pipelining: 1, keepAliveTimeout: 60_000 });
const path = u.pathname + u.search;
const headers = { 'content-type': 'application/json', ...cfg.headers };

function sortedMs(xs: Float64Array, n: number): Float64Array {
  const a = xs.slice(0, n);
  a.sort();
  return a;
}
function pct(a: Float64Array, p: number): number {
  if (a.length === 0) return Number.NaN;
  return a[Math.min(a.length - 1, Math.max(0, Math.ceil((p / 100) * a.length) - 1))] as number;
}
function summary(a: Float64Array): Record<string, number> {
  let sum = 0;
  for (const x of a) sum += x;
  return {
    n: a.length,
    mean: a.length ? sum / a.length : Number.NaN,
    p50: pct(a, 50),
    p90: pct(a, 90),
    p99: pct(a, 99),
    p999: pct(a, 99.9),
    max: a.length ? (a[a.length - 1] as number) : Number.NaN,
  };
}

async function runRate(c: RateConfig): Promise<void> {
  const cap = Math.ceil(c.rate * c.durationS * 1.1) + 16;
  const lat = new Float64Array(cap);
  const lag = new Float64Array(cap);
  let n = 0;
  let errors = 0;
  let non2xx = 0;
  let inflight = 0;
  let maxInflight = 0;
  let recording = false;

  const one = (scheduledAt: number): void => {
    const t0 = performance.now();
    const rec = recording;
    inflight++;
    if (inflight > maxInflight) maxInflight = inflight;
    pool
      .request({ method: 'POST', path, headers, body: c.body })
      .then(async (r) => {
        await r.body.dump({ limit: Number.MAX_SAFE_INTEGER });
        if (r.statusCode < 200 || r.statusCode > 299) non2xx++;
        if (rec && n < cap) {
          lat[n] = performance.now() - t0;
          lag[n] = t0 - scheduledAt;
          n++;
        }
      })
      .catch(() => {
        errors++;
      })
      .finally(() => {
        inflight--;
      });
  };

  const phase = (seconds: number): Promise<number> =>
    new Promise((resolve) => {
      const start = performance.now();
      const total = Math.round(c.rate * seconds);
      const interval = 1000 / c.rate;
      let sent = 0;
      const tick = (): void => {
        const now = performance.now();
        const due = Math.min(total, Math.floor((now - start) / interval) + 1);
        while (sent < due) {
          one(start + sent * interval);
          sent++;
        }
        if (sent >= total) {
          resolve(performance.now() - start);
          return;
        }
        // Sleep until the next due request (timers fire on ~1 ms granularity).
        const nextAt = start + sent * interval;
        setTimeout(tick, Math.max(0, nextAt - performance.now() - 0.5));
      };
      tick();
    });

  if (c.warmupS > 0) await phase(c.warmupS);
  recording = true;
  errors = 0;
  non2xx = 0;
  maxInflight = 0;
  const elapsedMs = await phase(c.durationS);
  const deadline = performance.now() + 10_000;
  while (inflight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const sent = Math.round(c.rate * c.durationS);
  process.stdout.write(
    `${JSON.stringify({
      mode: 'rate',
      rate: c.rate,
      sent,
      completed: n,
      errors,
      non2xx,
      unfinished: inflight,
      achievedRps: n / (elapsedMs / 1000),
      maxInflight,
      latencyMs: summary(sortedMs(lat, n)),
      scheduleLagMs: summary(sortedMs(lag, n)),
      ...(c.latencies ? { latenciesMs: Array.from(lat.subarray(0, n), (x) => Math.round(x * 1000) / 1000) } : {}),
    })}\n`,
  );
}

// First non-empty content delta (the upstream's first event is a role-only chunk with content "").
const contentRe = /"content":"[^"]/;
// The upstream's clock in its first content chunk (bench/overhead/upstream.ts): body arrived, chunk written (us).
const stampRe = /\[t:(\d+):(\d+)\]/;
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

async function runTtfb(c: TtfbConfig): Promise<void> {
  const ttfb = new Float64Array(c.requests);
  const full = new Float64Array(c.requests);
  const ttfc = new Float64Array(c.requests);
  const beforeUpstream = new Float64Array(c.requests);
  const afterUpstream = new Float64Array(c.requests);
  let stamps = 0;
  let n = 0;
  let errors = 0;
  let bad = 0;
  /** One streamed request; `measure` records it (the warm-up's are only checked). */
  const stream = async (measure: boolean): Promise<void> => {
    try {
      const t0 = performance.now();
      const sentUs = nowUs();
      const r = await pool.request({ method: 'POST', path, headers, body: c.body });
      let first = -1;
      let firstContent = -1;
      let firstContentUs = 0;
      let text = '';
      for await (const chunk of r.body) {
        const s = (chunk as Buffer).toString('utf8');
        const now = performance.now() - t0;
        if (first < 0 && s.includes('data:')) first = now;
        text += s;
        if (firstContent < 0 && contentRe.test(text)) {
          firstContent = now;
          firstContentUs = nowUs();
        }
      }
      const end = performance.now() - t0;
      if (r.statusCode !== 200 || !text.includes('[DONE]') || first < 0) {
        bad++;
        return;
      }
      if (!measure) return;
      ttfb[n] = first;
      ttfc[n] = firstContent;
      full[n] = end;
      const stamp = stampRe.exec(text);
      if (stamp) {
        beforeUpstream[stamps] = (Number(stamp[1]) - sentUs) / 1000;
        afterUpstream[stamps] = (firstContentUs - Number(stamp[2])) / 1000;
        stamps++;
      }
      n++;
    } catch {
      errors++;
    }
  };
  const phase = async (count: number, concurrency: number, measure: boolean): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next++ < count) await stream(measure);
    };
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
  };
  // Several streams at a time, so that a long warm-up stays short in wall time.
  await phase(c.warmup, c.warmupConcurrency, false);
  await phase(c.requests, c.concurrency, true);
  process.stdout.write(
    `${JSON.stringify({
      mode: 'ttfb',
      requests: c.requests,
      completed: n,
      errors,
      bad,
      ttfbMs: summary(sortedMs(ttfb, n)),
      ttfcMs: summary(sortedMs(ttfc, n)),
      ...(stamps > 0 ? { beforeUpstreamMs: summary(sortedMs(beforeUpstream, stamps)), afterUpstreamMs: summary(sortedMs(afterUpstream, stamps)) } : {}),
      totalMs: summary(sortedMs(full, n)),
    })}\n`,
  );
}

const main = cfg.mode === 'rate' ? runRate(cfg) : runTtfb(cfg);
main
  .then(() => pool.close())
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    process.stderr.write(`loadgen failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
