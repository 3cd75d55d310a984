// Small statistics helpers shared by benchmarks.

/** Percentile (0-100) of an ascending-sorted array, nearest-rank; NaN for empty input. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  const idx = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[idx] as number;
}

export function sortedCopy(xs: ArrayLike<number>): Float64Array {
  const a = Float64Array.from(xs as ArrayLike<number>);
  a.sort();
  return a;
}

export function median(xs: number[]): number {
  return percentile(sortedCopy(xs), 50);
}

export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** mulberry32: a small seeded generator, for benchmark inputs and resamplings that come out the same every run. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
