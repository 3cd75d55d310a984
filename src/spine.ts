import type { AbortLike } from './abort.js';
import type { Tenant } from './auth/index.js';
import { cachedChat, cachedEmbeddings, type CacheStageContext, type CacheStatus, type UpstreamChat } from './cache/index.js';
import type { Deps, LoadedPolicy } from './deps.js';
import type { ChatChunk, ChatCompletion, ChatRequest, EmbeddingsRequest, EmbeddingsResponse, Usage } from './dialects/openai/schema.js';
import { caught, type HeddleError } from './errors.js';
import type { AuditRecord } from './observability/audit.js';
import { decideRequest } from './policy/decide.js';
import type { ClassDecision } from './privacy/stage.js';
import { attemptChat, attemptChatStream, attemptEmbeddings, type AttemptOptions, type AttemptRecord } from './routing/attempts.js';
import type { RouteDecision } from './routing/route.js';

// The request spine after the inbound dialect: auth -> classify -> route -> cache -> attempts -> (outbound dialect inside
// the adapters) -> record. Every inbound dialect (OpenAI, Ollama, Anthropic) parses into the canonical request
// and calls these functions, so routing, privacy and failover behave the same whichever wire the client speaks.

export interface Inbound {
  endpoint: string;
  /** Read by lower-case name: web `Headers`, or the Node fast path's lookup over the raw request headers. */
  headers: Pick<Headers, 'get'>;
  /** Aborted when the client goes away. */
  signal: AbortLike;
  /** The peer's IP address where the runtime knows it (Node): loopback callers may be anonymous. */
  remoteAddress?: string | undefined;
}

export interface Decision {
  requestId: string;
  tenant: Tenant;
  /** `generation`, `evaluation` or a custom name (x-heddle-purpose header or the tenant's). */
  purpose: string;
  privacy: ClassDecision;
  route: RouteDecision;
}

export type ChatOutcome =
  | { kind: 'json'; completion: ChatCompletion; decision: Decision; target: string; cache: CacheStatus }
  | { kind: 'stream'; chunks: AsyncIterable<ChatChunk>; decision: Decision; target: string; cache: CacheStatus };

/** Tracks one request from arrival to the record stage; `finish` runs exactly once. */
export class RequestTrace {
  readonly requestId: string;
  private readonly started: number;
  private firstByte: number | undefined;
  private done = false;
  decision: Decision | undefined;
  target: string | null = null;
  readonly attempts: AttemptRecord[] = [];
  usage: Usage | undefined;
  cache: CacheStatus | undefined;

  constructor(
    private readonly deps: Deps,
    readonly endpoint: string,
    readonly model: string,
    readonly stream: boolean,
  ) {
    this.requestId = deps.newId();
    this.started = deps.now();
  }

  markFirstByte(): void {
    this.firstByte ??= this.deps.now();
  }

  /** The request failed with `err` (a bug is logged): recorded with its status, and returned as the error to answer. */
  failed(err: unknown): HeddleError {
    const error = caught(this.deps, this.endpoint, err);
    this.finish(error.status, error);
    return error;
  }

  finish(status: number, error?: HeddleError): void {
    if (this.done) return;
    this.done = true;
    const end = this.deps.now();
    const at = Date.now();
    // Recorded once the answer has left (deps.afterAnswer): the client does not wait for its metrics and audit line.
    const record = () => this.record(status, end, at, error);
    if (this.deps.afterAnswer === undefined) record();
    else this.deps.afterAnswer(record);
  }

  private record(status: number, end: number, at: number, error: HeddleError | undefined): void {
    try {
      this.metricsAndAudit(status, end, at, error);
    } catch (err) {
      // A failing metrics or audit sink costs this request its record, never its answer or the process.
      this.deps.log('error', 'recording a request failed', { request_id: this.requestId, error: err instanceof Error ? err.message : String(err) });
    }
  }

  private metricsAndAudit(status: number, end: number, at: number, error: HeddleError | undefined): void {
    const route = this.decision?.route.route.name ?? null;
    const ttfb = this.firstByte === undefined ? undefined : this.firstByte - this.started;
    this.deps.metrics?.record({
      endpoint: this.endpoint,
      route: route ?? '',
      // A failed request counts against the last target tried.
      target: this.target ?? this.attempts.at(-1)?.target ?? '',
      status,
      durationSeconds: (end - this.started) / 1000,
      ttfbSeconds: ttfb === undefined ? undefined : ttfb / 1000,
      promptTokens: this.usage?.prompt_tokens,
      completionTokens: this.usage?.completion_tokens,
    });
    const record: AuditRecord = {
      ts: new Date(at).toISOString(),
      request_id: this.requestId,
      endpoint: this.endpoint,
      model: this.model,
      tenant: this.decision?.tenant.name ?? 'unknown',
      purpose: this.decision?.purpose ?? null,
      class: this.decision?.privacy.class ?? 'restricted',
      class_signals: this.decision?.privacy.signals ?? [],
      findings: this.decision?.privacy.findings ?? {},
      route,
      target: this.target,
      attempts: this.attempts,
      status,
      stream: this.stream,
      duration_ms: Math.round((end - this.started) * 1000) / 1000,
      ttfb_ms: ttfb === undefined ? null : Math.round(ttfb * 1000) / 1000,
      prompt_tokens: this.usage?.prompt_tokens ?? null,
      completion_tokens: this.usage?.completion_tokens ?? null,
      error_code: error ? (error.code ?? error.type) : null,
      cache: this.cache ?? null,
    };
    this.deps.audit(record);
  }
}

function decide(deps: Deps, loaded: LoadedPolicy, req: ChatRequest | EmbeddingsRequest, inbound: Inbound, requestId: string): Decision {
  // Live outstanding/latency/node load from the resilience state order least-loaded and fastest routes.
  const { tenant, purpose, privacy, route } = decideRequest(loaded, req, inbound, { stats: deps.resilience.stats });
  return { requestId, tenant, purpose, privacy, route };
}

/** The attempt loop's inputs: the process's resilience state and this policy's settings for the route. */
function attemptOptions(deps: Deps, loaded: LoadedPolicy, decision: Decision, signal: AbortLike, trace: RequestTrace): AttemptOptions {
  return {
    http: deps.http,
    resilience: deps.resilience,
    config: loaded.policy.resilience,
    route: decision.route.route.name,
    signal,
    attempts: trace.attempts,
    redact: { kinds: loaded.policy.redactKinds, detectors: loaded.detectors },
  };
}

export async function runChat(deps: Deps, req: ChatRequest, inbound: Inbound, trace: RequestTrace): Promise<ChatOutcome> {
  const loaded = deps.policy();
  const decision = decide(deps, loaded, req, inbound, trace.requestId);
  trace.decision = decision;
  // Stage 5: the cache answers, joins an identical call in flight, or runs the attempt loop (under a signal of
  // its own when the call is shared, so one client leaving does not cut the others off).
  const out = await cachedChat(req, cacheContext(deps, loaded, decision, inbound), async (sent, signal): Promise<UpstreamChat> => {
    const opts = attemptOptions(deps, loaded, decision, signal, trace);
    if (sent.stream) {
      const served = await attemptChatStream(sent, decision.route.candidates, opts);
      return { kind: 'stream', chunks: served.value, target: served.candidate.target.name };
    }
    const served = await attemptChat(sent, decision.route.candidates, opts);
    return { kind: 'json', completion: served.value, target: served.candidate.target.name };
  });
  trace.target = out.target;
  trace.cache = out.cache;
  if (out.kind === 'json') {
    trace.usage = out.completion.usage;
    return { kind: 'json', completion: out.completion, decision, target: out.target, cache: out.cache };
  }
  return { kind: 'stream', chunks: out.chunks, decision, target: out.target, cache: out.cache };
}

function cacheContext(deps: Deps, loaded: LoadedPolicy, decision: Decision, inbound: Inbound): CacheStageContext {
  return {
    cache: deps.cache,
    settings: loaded.policy.cache,
    tenant: decision.tenant.name,
    privacyClass: decision.privacy.class,
    route: decision.route.route.name,
    candidates: decision.route.candidates,
    headers: inbound.headers,
    signal: inbound.signal,
    metrics: deps.metrics,
  };
}

export async function runEmbeddings(
  deps: Deps,
  req: EmbeddingsRequest,
  inbound: Inbound,
  trace: RequestTrace,
): Promise<{ answer: EmbeddingsResponse; decision: Decision; target: string; cache: CacheStatus }> {
  const loaded = deps.policy();
  const decision = decide(deps, loaded, req, inbound, trace.requestId);
  trace.decision = decision;
  const out = await cachedEmbeddings(req, cacheContext(deps, loaded, decision, inbound), async () => {
    const served = await attemptEmbeddings(req, decision.route.candidates, attemptOptions(deps, loaded, decision, inbound.signal, trace));
    return { answer: served.value, target: served.candidate.target.name };
  });
  trace.target = out.target;
  trace.cache = out.cache;
  if (out.answer.usage) {
    trace.usage = { prompt_tokens: out.answer.usage.prompt_tokens, completion_tokens: 0, total_tokens: out.answer.usage.total_tokens };
  }
  return { answer: out.answer, decision, target: out.target, cache: out.cache };
}
