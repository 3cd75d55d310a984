// Ratios paired in time. This machine's speed drifts by tens of percent over minutes (other tenants of the host, the
// builds sharing it): one Heddle build read 270 and 417 CPU us per request in two rounds of the same run. Contenders
// measured one after the other inherit that drift in their ratios. Here the contenders the targets compare all run at
// once, pinned to the same core, and take turns in short slices; each cycle gives one ratio per contender from slices
// seconds apart, and the report gives the median of those ratios and their range.
import { median } from '../lib/stats.js';

export interface SliceMeasures<C> {
  /** Closed loop (wrk) for one slice: requests per second, and the contender's CPU time per request. */
  unthrottled(c: C): Promise<{ rps: number; cpuUsPerReq?: number | undefined }>;
  /** Open loop at the fixed rate for one slice: latency percentiles, ms. */
  atRate(c: C): Promise<{ p50: number; p99: number }>;
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
}

/**
 * Runs `cycles` cycles of each phase; in a cycle every contender gets one slice, starting with a different contender
 * each cycle so that no one always follows the same neighbour.
 */
export async function interleave<C extends { name: string }>(
  contenders: C[],
  opts: { cycles: number; sliceS: number; rate: number; rateWarmupS: number; log: (s: string) => void },
  measure: SliceMeasures<C>,
): Promise<InterleavedResult> {
  const { cycles, sliceS, rate, rateWarmupS } = opts;
  const out: InterleavedResult = { cycles, sliceS, rate, rateWarmupS, rps: {}, cpuUsPerReq: {}, p50Ms: {}, p99Ms: {} };
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
    }
  }
  return out;
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
  const added = (n: string): number[] => (p[n] ?? []).map((x, i) => x - (direct[i] ?? Number.NaN));
  const mine = added(name);
  const minimal = added('minimal');
  return { added: mine, ratio: mine.map((x, i) => x / Math.max(minimal[i] ?? Number.NaN, floorMs)) };
}
