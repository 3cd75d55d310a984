import type { Strategy } from '../policy/schema.js';

// How a route orders the candidates that survived the privacy filter. Ordering only: the attempt loop tries them
// in this order, so a fallback can only ever reach a target that was already cleared.

/**
 * Live per-target data the load- and latency-aware strategies read. The resilience stage (src/resilience)
 * implements it; without it, NO_STATS keeps the listed order.
 */
export interface TargetStats {
  /** Requests this gateway has in flight to the target now. */
  outstanding(name: string): number;
  /** Smoothed time to first byte, in milliseconds; undefined before any sample. */
  latencyEwmaMs(name: string): number | undefined;
  /** Load the target reports itself (queued + running sequences), when it does. */
  reportedLoad(name: string): number | undefined;
  /** Smoothed streaming speed in completion tokens per second; undefined before any sample. */
  tokensPerSecondEwma(name: string): number | undefined;
}

export const NO_STATS: TargetStats = {
  outstanding: () => 0,
  latencyEwmaMs: () => undefined,
  reportedLoad: () => undefined,
  tokensPerSecondEwma: () => undefined,
};

/** Answer length used to weigh latency against speed when ranking by expected answer time. */
const TYPICAL_COMPLETION_TOKENS = 256;

export interface StrategyOptions {
  stats?: TargetStats;
  /** Uniform in [0, 1); injectable so tests and benchmarks can seed it. */
  random?: () => number;
}

interface Weighted {
  target: { name: string; weight: number };
}

/** The candidates in the order the strategy wants them tried. Never adds or drops one. */
export function orderCandidates<T extends Weighted>(strategy: Strategy, candidates: readonly T[], options: StrategyOptions = {}): T[] {
  const stats = options.stats ?? NO_STATS;
  switch (strategy) {
    case 'fallback':
      return [...candidates];
    case 'weighted': {
      // Weighted sampling without replacement (Efraimidis-Spirakis): the first is picked in proportion to weight,
      // and the rest follow as fallbacks in the same weighted-random order.
      const random = options.random ?? Math.random;
      return candidates
        .map((c) => ({ c, key: Math.pow(Math.max(random(), Number.MIN_VALUE), 1 / c.target.weight) }))
        .sort((a, b) => b.key - a.key)
        .map((x) => x.c);
    }
    case 'least-loaded':
      // Load per unit of weight (weight stands for capacity); ties keep the listed order (Array.sort is stable).
      return [...candidates].sort((a, b) => load(stats, a) - load(stats, b));
    case 'fastest':
      // Expected time for a typical answer: first byte plus generation at the measured speed. Targets with no
      // sample yet go first (in listed order), so every target gets measured instead of never being tried.
      return [...candidates].sort((a, b) => expectedAnswerMs(stats, a) - expectedAnswerMs(stats, b));
  }
}

function load(stats: TargetStats, c: Weighted): number {
  return (stats.reportedLoad(c.target.name) ?? stats.outstanding(c.target.name)) / c.target.weight;
}

function expectedAnswerMs(stats: TargetStats, c: Weighted): number {
  const latency = stats.latencyEwmaMs(c.target.name);
  if (latency === undefined) return Number.NEGATIVE_INFINITY;
  const tps = stats.tokensPerSecondEwma(c.target.name);
  return tps === undefined || tps <= 0 ? latency : latency + (TYPICAL_COMPLETION_TOKENS * 1000) / tps;
}
