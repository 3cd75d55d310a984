// Prometheus metrics, defined in one place (names, help text, buckets). Label sets are joined into one map key;
// a finished request finds all of its series with one lookup (RequestSeries) and adds to them.

const PREFIX = 'heddle';
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

type Labels = Record<string, string>;

interface CounterEntry {
  labels: Labels;
  value: number;
}

class Counter {
  private readonly values = new Map<string, CounterEntry>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels, by = 1): void {
    this.entry(labels).value += by;
  }

  /** The entry for a label set, created at 0 on first use. */
  entry(labels: Labels): CounterEntry {
    const key = labelKey(labels);
    let entry = this.values.get(key);
    if (entry === undefined) {
      entry = { labels, value: 0 };
      this.values.set(key, entry);
    }
    return entry;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const { labels, value } of this.values.values()) out.push(`${this.name}${formatLabels(labels)} ${value}`);
  }
}

interface HistogramEntry {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
}

class Histogram {
  private readonly values = new Map<string, HistogramEntry>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {}

  observe(labels: Labels, value: number): void {
    this.add(this.entry(labels), value);
  }

  /** The entry for a label set, created empty on first use. */
  entry(labels: Labels): HistogramEntry {
    const key = labelKey(labels);
    let entry = this.values.get(key);
    if (entry === undefined) {
      entry = { labels, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.values.set(key, entry);
    }
    return entry;
  }

  add(entry: HistogramEntry, value: number): void {
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] ?? Infinity)) entry.counts[i]! += 1;
    entry.sum += value;
    entry.count += 1;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const { labels, counts, sum, count } of this.values.values()) {
      this.buckets.forEach((le, i) => out.push(`${this.name}_bucket${formatLabels({ ...labels, le: String(le) })} ${counts[i]}`));
      out.push(`${this.name}_bucket${formatLabels({ ...labels, le: '+Inf' })} ${count}`);
      out.push(`${this.name}_sum${formatLabels(labels)} ${sum}`, `${this.name}_count${formatLabels(labels)} ${count}`);
    }
  }
}

class Gauge {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  set(labels: Labels, value: number): void {
    const key = labelKey(labels);
    const entry = this.values.get(key);
    if (entry) entry.value = value;
    else this.values.set(key, { labels, value });
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    for (const { labels, value } of this.values.values()) out.push(`${this.name}${formatLabels(labels)} ${value}`);
  }
}

/** One endpoint, route and target's entries, each taken from its metric when first needed. */
class RequestSeries {
  readonly status = new Map<number, CounterEntry>();
  readonly routeTarget: Labels;
  duration: HistogramEntry | undefined;
  ttfb: HistogramEntry | undefined;
  tokensIn: CounterEntry | undefined;
  tokensOut: CounterEntry | undefined;

  constructor(readonly where: Labels & { route: string; target: string }) {
    this.routeTarget = { route: where.route, target: where.target };
  }
}

function labelKey(labels: Labels): string {
  let key = '';
  for (const k in labels) key += `${k}\u0000${labels[k]}\u0001`;
  return key;
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

/** What one finished request contributes to the metrics. */
export interface RequestSample {
  endpoint: string;
  route: string;
  target: string;
  status: number;
  durationSeconds: number;
  /** Time to the first byte of the answer (first chunk for streams). */
  ttfbSeconds: number | undefined;
  promptTokens: number | undefined;
  completionTokens: number | undefined;
}

export class Metrics {
  private readonly requests = new Counter(`${PREFIX}_requests_total`, 'Requests answered, by endpoint, route, target and status.');
  private readonly duration = new Histogram(`${PREFIX}_request_duration_seconds`, 'Time from request to the end of the answer.');
  private readonly ttfb = new Histogram(`${PREFIX}_time_to_first_byte_seconds`, 'Time from request to the first byte of the answer.');
  private readonly tokensIn = new Counter(`${PREFIX}_prompt_tokens_total`, 'Prompt tokens reported by targets.');
  private readonly tokensOut = new Counter(`${PREFIX}_completion_tokens_total`, 'Completion tokens reported by targets.');
  private readonly cacheRequests = new Counter(
    `${PREFIX}_cache_requests_total`,
    'Requests by cache status (hit, miss, coalesced, refresh, bypass), by endpoint.',
  );
  private readonly cacheBytes = new Gauge(`${PREFIX}_cache_bytes`, 'Bytes of cached answers held, by store.');

  private readonly breakers = new Gauge(`${PREFIX}_circuit_breaker_state`, 'Circuit breaker per target: 0 closed, 1 half-open, 2 open.');
  /** Endpoint, route and target -> that combination's entries in the metrics above. */
  private readonly series = new Map<string, RequestSeries>();

  record(s: RequestSample): void {
    const key = `${s.endpoint}\u0000${s.route}\u0000${s.target}`;
    let series = this.series.get(key);
    if (series === undefined) {
      series = new RequestSeries({ endpoint: s.endpoint, route: s.route, target: s.target });
      this.series.set(key, series);
    }
    let status = series.status.get(s.status);
    if (status === undefined) {
      status = this.requests.entry({ ...series.where, status: String(s.status) });
      series.status.set(s.status, status);
    }
    status.value += 1;
    this.duration.add((series.duration ??= this.duration.entry(series.where)), s.durationSeconds);
    if (s.ttfbSeconds !== undefined) this.ttfb.add((series.ttfb ??= this.ttfb.entry(series.where)), s.ttfbSeconds);
    if (s.promptTokens) (series.tokensIn ??= this.tokensIn.entry(series.routeTarget)).value += s.promptTokens;
    if (s.completionTokens) (series.tokensOut ??= this.tokensOut.entry(series.routeTarget)).value += s.completionTokens;
  }

  cacheRequest(endpoint: string, status: string): void {
    this.cacheRequests.inc({ endpoint, status });
  }

  cacheSize(store: string, bytes: number): void {
    this.cacheBytes.set({ store }, bytes);
  }

  breakerState(target: string, state: 'closed' | 'half_open' | 'open'): void {
    this.breakers.set({ target }, state === 'closed' ? 0 : state === 'half_open' ? 1 : 2);
  }

  render(): string {
    const out: string[] = [];
    this.breakers.render(out);
    for (const m of [this.requests, this.duration, this.ttfb, this.tokensIn, this.tokensOut, this.cacheRequests, this.cacheBytes]) m.render(out);
    return `${out.join('\n')}\n`;
  }
}
