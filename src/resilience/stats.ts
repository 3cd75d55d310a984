import type { TargetStats } from '../routing/strategy.js';

// Live numbers per target, from real traffic (outstanding requests, EWMA of latency and of tokens/s) and from
// the node itself (FastLLM's GET /v1/load). Implements TargetStats for the least-loaded and fastest strategies.

/** Weight of the newest sample in the moving averages. */
const ALPHA = 0.2;
/** A node-reported load older than this is ignored (the node may have died since). */
const LOAD_STALE_MS = 30_000;

export interface NodeLoad {
  running: number;
  waiting: number;
  queueCapacity: number;
  kvUsed: number;
  kvCapacity: number;
}

interface Entry {
  outstanding: number;
  latencyMs: number | undefined;
  tokensPerSecond: number | undefined;
  load: NodeLoad | undefined;
  loadAt: number;
  /** When real traffic last got an answer from it (ms); -Infinity before any. */
  lastSuccessAt: number;
}

export class LiveStats implements TargetStats {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number) {}

  private entry(name: string): Entry {
    let e = this.entries.get(name);
    if (e === undefined) {
      e = { outstanding: 0, latencyMs: undefined, tokensPerSecond: undefined, load: undefined, loadAt: 0, lastSuccessAt: -Infinity };
      this.entries.set(name, e);
    }
    return e;
  }

  started(name: string): void {
    this.entry(name).outstanding++;
  }

  ended(name: string): void {
    const e = this.entry(name);
    e.outstanding = Math.max(0, e.outstanding - 1);
  }

  /** Latency of a successful answer: time to first token for streams, the whole answer otherwise. */
  latency(name: string, ms: number): void {
    const e = this.entry(name);
    e.lastSuccessAt = this.now();
    e.latencyMs = e.latencyMs === undefined ? ms : e.latencyMs + ALPHA * (ms - e.latencyMs);
  }

  /** Generation speed of a finished answer. */
  throughput(name: string, tokens: number, ms: number): void {
    if (tokens <= 0 || ms <= 0) return;
    const e = this.entry(name);
    const rate = (tokens * 1000) / ms;
    e.tokensPerSecond = e.tokensPerSecond === undefined ? rate : e.tokensPerSecond + ALPHA * (rate - e.tokensPerSecond);
  }

  nodeLoad(name: string, load: NodeLoad | undefined): void {
    const e = this.entry(name);
    e.load = load;
    e.loadAt = this.now();
  }

  /** Milliseconds since real traffic last got an answer from the target (Infinity if never). */
  sinceLastSuccessMs(name: string): number {
    return this.now() - (this.entries.get(name)?.lastSuccessAt ?? -Infinity);
  }

  outstanding(name: string): number {
    return this.entries.get(name)?.outstanding ?? 0;
  }

  latencyEwmaMs(name: string): number | undefined {
    return this.entries.get(name)?.latencyMs;
  }

  tokensPerSecondEwma(name: string): number | undefined {
    return this.entries.get(name)?.tokensPerSecond;
  }

  /**
   * Sequences the node has running or queued, from its last fresh report (comparable with `outstanding`). A
   * node whose KV cache is full cannot admit more, so it counts as a full queue on top.
   */
  reportedLoad(name: string): number | undefined {
    const load = this.freshLoad(name);
    if (load === undefined) return undefined;
    const kvFull = load.kvCapacity > 0 && load.kvUsed >= load.kvCapacity;
    return load.running + load.waiting + (kvFull ? load.queueCapacity : 0);
  }

  /** The node says its queue is full: it would only reject or queue more work. */
  saturated(name: string): boolean {
    const load = this.freshLoad(name);
    return load !== undefined && load.queueCapacity > 0 && load.waiting >= load.queueCapacity;
  }

  freshLoad(name: string): NodeLoad | undefined {
    const e = this.entries.get(name);
    if (e?.load === undefined || this.now() - e.loadAt > LOAD_STALE_MS) return undefined;
    return e.load;
  }
}
