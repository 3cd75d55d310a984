// Ratios paired in time. This machine's speed drifts by tens of percent over minutes (other tenants of the host, the
// builds sharing it): one Heddle build read 270 and 417 CPU us per request in two rounds of the same run. Contenders
// measured one after the other inherit that drift in their ratios. Here the contenders the targets compare all run at
// once, pinned to the same core, and take turns in short slices; each cycle gives one ratio per contender from slices
// seconds apart, and the report gives the median of those ratios and their range.
//
// Latency is also pooled: every request of a contender's slices, over all cycles, in one distribution. One slice's
// p99 at 1000 RPS is its 40th slowest request, so it is set by whether one of this VM's few 5-13 ms stalls per 10 s
// fell in that slice (bench/results/tail-1000rps.md): per-cycle p99 ratios range 0.3x to 50x. The pooled p99 is the
// 400th slowest of 40,000 requests taken in turns with the other contenders, so the stalls weigh on each contender
// alike and the gateway's own tail decides it. Its interval comes from resampling whole cycles (every contender's
// slices of one cycle together, keeping the pairing).
import { median, percentile, seededRandom } from '../lib/stats.js';

export interface SliceMeasures<C> {
  /** Closed loop (wrk) for one slice: requests per second, and the contender's CPU time per request. */
  unthrottled(c: C): Promise<{ rps: number; cpuUsPerReq?: number | undefined }>;
  /** Open loop at the fixed rate for one slice: latency percentiles and every request's latency, ms. */
  atRate(c: C): Promise<{ p50: number; p99: number; latenciesMs: Float64Array }>;
}

export interface InterleavedResult {
  cycles: number;
  sliceS: number;
  rate: number;
  /** Seconds at the rate before each open-loop slice is measured. */
  rateWarmupS: number;
  /** Per contender name, one value per cycle, in cycle order. */
  rps: Record<string, number[]>;
  cpuUsPerReq: Record<string, number[]>;
  p50Ms: Record<string, number[]>;
  p99Ms: Record<string, number[]>;
  /** Every slice's requests pooled per contender (see the top of this file). */
  pooled: PooledLatency;
}

/** A value and its 90% interval (5th to 95th percentile of the resampled values). */
export interface Interval {
  value: number;
  low: number;
  high: number;
}

export interface PooledLatency {
  /** Requests pooled per contender. */
  n: Record<string, number>;
  p50Ms: Record<string, number>;
  p99Ms: Record<string, number>;
  /** Added latency (pooled percentile minus direct's) over the minimal proxy's, floored as in `addedRatios`. */
  addedRatio: Record<string, { p50: Interval; p99: Interval }>;
}

/**
 * Runs `cycles` cycles of each phase; in a cycle every contender gets one slice, starting with a different contender
 * each cycle so that no one always follows the same neighbour.
 */
export async function interleave<C extends { name: string }>(
  contenders: C[],
  opts: { cycles: number; sliceS: number; rate: number; rateWarmupS: number; floorMs: number; log: (s: string) => void },
  measure: SliceMeasures<C>,
): Promise<InterleavedResult> {
  const { cycles, sliceS, rate, rateWarmupS } = opts;
  const out: Omit<InterleavedResult, 'pooled'> = { cycles, sliceS, rate, rateWarmupS, rps: {}, cpuUsPerReq: {}, p50Ms: {}, p99Ms: {} };
  const latencies: Record<string, Float64Array[]> = {};
  const push = (into: Record<string, number[]>, name: string, x: number | undefined): void => {
    (into[name] ??= []).push(x ?? Number.NaN);
  };
  const rotated = (cycle: number): C[] => contenders.map((_, i) => contenders[(i + cycle) % contenders.length] as C);
  for (let cycle = 0; cycle < opts.cycles; cycle++) {
    opts.log(`interleaved unthrottled, cycle ${cycle + 1}/${opts.cycles}`);
    for (const c of rotated(cycle)) {
      if (c.name === 'direct') continue;
      const u = await measure.unthrottled(c);
      push(out.rps, c.name, u.rps);
      push(out.cpuUsPerReq, c.name, u.cpuUsPerReq);
    }
  }
  for (let cycle = 0; cycle < opts.cycles; cycle++) {
    opts.log(`interleaved ${opts.rate} RPS, cycle ${cycle + 1}/${opts.cycles}`);
    for (const c of rotated(cycle)) {
      const l = await measure.atRate(c);
      push(out.p50Ms, c.name, l.p50);
      push(out.p99Ms, c.name, l.p99);
      (latencies[c.name] ??= []).push(l.latenciesMs);
    }
  }
  return { ...out, pooled: pooledLatency(latencies, opts.floorMs) };
}

/** Median, lowest and highest of per-cycle values (NaN cycles left out). */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(xs: number[]): Spread | undefined {
  const ok = xs.filter(Number.isFinite);
  if (ok.length === 0) return undefined;
  return { median: median(ok), min: Math.min(...ok), max: Math.max(...ok), n: ok.length };
}

/** Per-cycle ratio a/b of two contenders' values. */
export function cycleRatios(a: number[] | undefined, b: number[] | undefined): number[] {
  if (a === undefined || b === undefined) return [];
  return a.map((x, i) => x / (b[i] as number));
}

/**
 * Per-cycle added latency of a contender (its percentile minus direct's in the same cycle) over the minimal proxy's,
 * the minimal's floored at `floorMs` so that a near-zero (noise) baseline still gives a usable ratio.
 */
export function addedRatios(p: Record<string, number[]>, name: string, floorMs: number): { added: number[]; ratio: number[] } {
  const direct = p.direct ?? [];
  const mine = (p[name] ?? []).map((x, i) => x - (direct[i] ?? Number.NaN));
  return { added: mine, ratio: (p[name] ?? []).map((x, i) => addedOverMinimal(x, p.minimal?.[i], direct[i], floorMs)) };
}

/** A contender's added latency (its percentile minus direct's) over the minimal proxy's, the latter floored. */
function addedOverMinimal(x: number | undefined, minimal: number | undefined, direct: number | undefined, floorMs: number): number {
  const d = direct ?? Number.NaN;
  return ((x ?? Number.NaN) - d) / Math.max((minimal ?? Number.NaN) - d, floorMs);
}

const RESAMPLES = 200;

/**
 * Pooled percentiles per contender from each cycle's slice latencies (`slices[name][cycle]`), and each contender's
 * added-latency ratio over the minimal proxy's with its interval from resampling cycles (fixed seed: a rerun of the
 * report gives the same interval).
 */
export function pooledLatency(slices: Record<string, Float64Array[]>, floorMs: number): PooledLatency {
  const names = Object.keys(slices);
  const cycles = Math.min(...names.map((n) => (slices[n] as Float64Array[]).length));
  const percentiles = (pick: number[]): Record<string, { p50: number; p99: number; n: number }> =>
    Object.fromEntries(
      names.map((n) => {
        const sorted = concat(pick.map((i) => (slices[n] as Float64Array[])[i] as Float64Array)).sort();
        return [n, { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length }];
      }),
    );
  const ratios = (p: Record<string, { p50: number; p99: number }>, name: string, k: 'p50' | 'p99'): number =>
    addedOverMinimal(p[name]?.[k], p.minimal?.[k], p.direct?.[k], floorMs);
  const all = percentiles(Array.from({ length: cycles }, (_, i) => i));
  const random = seededRandom(1);
  const resampled = Array.from({ length: RESAMPLES }, () => percentiles(Array.from({ length: cycles }, () => Math.floor(random() * cycles))));
  const interval = (name: string, k: 'p50' | 'p99'): Interval => {
    const xs = resampled.map((p) => ratios(p, name, k)).filter(Number.isFinite).sort((a, b) => a - b);
    return { value: ratios(all, name, k), low: percentile(xs, 5), high: percentile(xs, 95) };
  };
  const compared = names.filter((n) => n !== 'direct' && n !== 'minimal');
  return {
    n: Object.fromEntries(names.map((n) => [n, all[n]?.n ?? 0])),
    p50Ms: Object.fromEntries(names.map((n) => [n, all[n]?.p50 ?? Number.NaN])),
    p99Ms: Object.fromEntries(names.map((n) => [n, all[n]?.p99 ?? Number.NaN])),
    addedRatio: Object.fromEntries(compared.map((n) => [n, { p50: interval(n, 'p50'), p99: interval(n, 'p99') }])),
  };
}

function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
