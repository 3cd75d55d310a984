import type { AbortLike } from '../abort.js';
import type { ChatChunk, ChatCompletion, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../dialects/openai/schema.js';
import { HeddleError } from '../errors.js';
import type { HttpSend } from '../providers/http.js';
import { adapterFor } from '../providers/index.js';
import type { CallContext } from '../providers/types.js';
import type { ClassifierConfig } from '../privacy/config.js';
import { redactRequest, restoreChunks, restoreCompletion, type Redaction } from '../privacy/redact.js';
import type { ResolvedTimeouts, ResilienceConfig } from '../resilience/config.js';
import type { Resilience, Ticket } from '../resilience/index.js';
import { backoffSeconds, shouldRetry } from '../resilience/retry.js';
import { hasContent } from '../stream/respond.js';
import { Deadline } from './deadline.js';
import type { Candidate } from './route.js';

// Stage 6: the attempt loop. Rounds over the candidates in strategy order; in each round every candidate that
// is admitted (breaker closed or a half-open trial free, health probe not failing, not cooling down after a
// Retry-After, not saturated) gets one attempt. Between rounds: exponential backoff with jitter, or the shortest
// Retry-After up to its cap. Every attempt after the first needs the per-request limit (1 + retries) and the
// process-wide retry budget. Each attempt runs under its own Aborter (client disconnect, first-byte,
// idle and total timeouts all abort the upstream call). A non-retryable error (the client's own mistake,
// relayed by the target) stops the loop. A stream commits at its first content chunk: until then failover is
// invisible, after it errors go to the client and nothing is retried.

export interface AttemptOptions {
  http: HttpSend;
  resilience: Resilience;
  config: ResilienceConfig;
  /** Route name, for per-route timeouts and retries. */
  route: string;
  /** Aborts every attempt (the client went away). */
  signal: AbortLike;
  /** Filled in order with each attempt's outcome, for the audit line (also when every attempt fails). */
  attempts: AttemptRecord[];
  /** How to redact for candidates cleared only for the redacted request (the policy's privacy.redact). */
  redact?: { kinds: ReadonlySet<string>; detectors: ClassifierConfig };
}

export interface AttemptRecord {
  target: string;
  error?: string;
  status?: number;
  /** Why the target was not tried (breaker open, health, cool-down, saturation, budget). */
  skipped?: string;
}

export interface Served<T> {
  value: T;
  candidate: Candidate;
}

export function attemptChat(req: ChatRequest, candidates: Candidate[], opts: AttemptOptions): Promise<Served<ChatCompletion>> {
  return loop(candidates, opts, async (candidate, ctx, run) => {
    const { body, redaction } = requestFor(req, candidate, opts);
    const answer = await adapterFor(candidate.target.kind).chat(body, ctx);
    run.finished(answer.usage?.completion_tokens);
    return redaction === undefined ? answer : restoreCompletion(answer, redaction);
  });
}

/**
 * What a candidate is sent: the request itself, or, for a candidate cleared only for the redacted request, a copy
 * with the policy's redactable values replaced by placeholders (and the redaction that restores the answer).
 */
function requestFor<T extends ChatRequest | EmbeddingsRequest>(req: T, candidate: Candidate, opts: AttemptOptions): { body: T; redaction?: Redaction } {
  if (!candidate.redacted || opts.redact === undefined) return { body: req };
  const { request, redaction } = redactRequest(req, opts.redact.detectors, opts.redact.kinds);
  return { body: request, redaction };
}

export function attemptEmbeddings(
  req: EmbeddingsRequest,
  candidates: Candidate[],
  opts: AttemptOptions,
): Promise<Served<EmbeddingsResponse>> {
  return loop(candidates, opts, async (candidate, ctx, run) => {
    const answer = await adapterFor(candidate.target.kind).embeddings(requestFor(req, candidate, opts).body, ctx);
    run.finished(undefined);
    return answer;
  });
}

/** A committed stream: the chunks read before commit, then the rest, under idle and total timeouts. */
export function attemptChatStream(
  req: ChatRequest,
  candidates: Candidate[],
  opts: AttemptOptions,
): Promise<Served<AsyncIterable<ChatChunk>>> {
  return loop(candidates, opts, async (candidate, ctx, run) => {
    const { body, redaction } = requestFor(req, candidate, opts);
    const upstream = await adapterFor(candidate.target.kind).chatStream(body, ctx);
    const iterator = (redaction === undefined ? upstream : restoreChunks(upstream, redaction))[Symbol.asyncIterator]();
    const buffered: ChatChunk[] = [];
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        buffered.push(next.value);
        if (hasContent(next.value)) break;
      }
    } catch (err) {
      await iterator.return?.().catch(() => undefined);
      throw err;
    }
    run.committed();
    return committed(buffered, iterator, run);
  });
}

async function* committed(buffered: ChatChunk[], iterator: AsyncIterator<ChatChunk>, run: AttemptRun): AsyncIterable<ChatChunk> {
  let tokens: number | undefined;
  let ended = false;
  try {
    yield* buffered;
    for (;;) {
      run.deadline.arm(run.timeouts.idle, 'idle');
      const next = await iterator.next();
      if (next.done) break;
      if (next.value.usage) tokens = next.value.usage.completion_tokens;
      yield next.value;
    }
    ended = true;
    run.finished(tokens);
  } catch (err) {
    ended = true;
    if (err instanceof HeddleError) run.failed(err);
    else run.abandoned();
    throw err;
  } finally {
    // The client went away mid-stream (no verdict on the target); stop the upstream read either way.
    if (!ended) run.abandoned();
    run.deadline.finish();
    await iterator.return?.();
  }
}

/**
 * One attempt at one target: its deadline, its timeouts, and the ticket on which its outcome is reported to
 * the resilience state (breaker, stats). A stream reports at its end, after the loop has returned.
 */
class AttemptRun {
  private committedAt: number | undefined;

  constructor(
    readonly deadline: Deadline,
    readonly timeouts: ResolvedTimeouts,
    private readonly ticket: Ticket,
    private readonly opts: AttemptOptions,
  ) {}

  committed(): void {
    this.committedAt = this.opts.resilience.now();
    this.opts.resilience.stats.latency(this.ticket.target, this.committedAt - this.ticket.startedAt);
  }

  finished(completionTokens: number | undefined): void {
    const r = this.opts.resilience;
    const now = r.now();
    if (this.committedAt === undefined) r.stats.latency(this.ticket.target, now - this.ticket.startedAt);
    if (completionTokens !== undefined) r.stats.throughput(this.ticket.target, completionTokens, now - (this.committedAt ?? this.ticket.startedAt));
    r.succeeded(this.ticket, this.opts.config);
  }

  failed(error: HeddleError): void {
    this.opts.resilience.failed(this.ticket, error, this.opts.config);
  }

  abandoned(): void {
    this.opts.resilience.abandoned(this.ticket);
  }
}

type Attempt<T> = (candidate: Candidate, ctx: CallContext, run: AttemptRun) => Promise<T>;

async function loop<T>(candidates: Candidate[], opts: AttemptOptions, attempt: Attempt<T>): Promise<Served<T>> {
  const { resilience, config, signal } = opts;
  const retry = config.retryFor(opts.route);
  const maxAttempts = 1 + retry.retries;
  const errors: HeddleError[] = [];
  const skipped = new Map<string, string>();
  let tries = 0;
  let stopReason: string | undefined;
  resilience.budget.onRequest(resilience.now(), config.budget);

  rounds: for (let round = 0; tries < maxAttempts && !signal.aborted; round++) {
    if (round > 0) {
      const wait = nextRoundWait(candidates, opts, round);
      if (wait === undefined) break;
      if (!(await sleep(wait, signal))) break;
    }
    let triedThisRound = false;
    for (const candidate of candidates) {
      if (tries >= maxAttempts || signal.aborted) break;
      const name = candidate.target.name;
      const admission = resilience.admit(candidate.target, config);
      if (!admission.ok) {
        if (!skipped.has(name)) opts.attempts.push({ target: name, skipped: admission.reason });
        skipped.set(name, admission.reason);
        continue;
      }
      if (tries > 0 && !resilience.budget.tryRetry(resilience.now(), config.budget)) {
        resilience.abandoned(admission.ticket);
        stopReason = 'the retry budget is spent';
        opts.attempts.push({ target: name, skipped: stopReason });
        break rounds;
      }
      tries++;
      triedThisRound = true;
      const timeouts = config.timeoutsFor(opts.route, name);
      const deadline = new Deadline(name, signal, timeouts.total, timeouts.firstByte);
      const run = new AttemptRun(deadline, timeouts, admission.ticket, opts);
      const ctx: CallContext = {
        http: opts.http,
        target: candidate.target,
        model: candidate.model,
        signal: deadline.signal,
        connectTimeoutMs: timeouts.connect * 1000,
      };
      try {
        const value = await attempt(candidate, ctx, run);
        // A stream keeps its deadline and ticket until it ends; anything else is finished here.
        deadline.release();
        if (admission.ticket.done) deadline.finish();
        opts.attempts.push({ target: name });
        return { value, candidate };
      } catch (err) {
        deadline.finish();
        // Heddle's own bug, not the target's failure: no verdict on the target, and thrown as it is, to be logged.
        if (!(err instanceof HeddleError)) {
          run.abandoned();
          throw err;
        }
        if (signal.aborted) run.abandoned();
        else run.failed(err);
        opts.attempts.push({ target: name, error: err.code ?? err.type, status: err.status });
        errors.push(err);
        if (!shouldRetry(err)) throw err;
      }
    }
    if (!triedThisRound) break;
  }
  throw allFailed(errors, skipped, stopReason, candidates, opts);
}

/** Seconds to wait before the next round, or undefined when no candidate can be ready within the caps. */
function nextRoundWait(candidates: Candidate[], opts: AttemptOptions, round: number): number | undefined {
  const retry = opts.config.retryFor(opts.route);
  const readyIn = Math.min(...candidates.map((c) => opts.resilience.readyInMs(c.target, opts.config))) / 1000;
  if (readyIn > retry.retryAfterCap) return undefined;
  return Math.max(readyIn, backoffSeconds(round, retry));
}

function sleep(seconds: number, signal: AbortLike): Promise<boolean> {
  if (seconds <= 0) return Promise.resolve(!signal.aborted);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), seconds * 1000);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Nothing served the request. A client mistake was thrown as is; here every failure was retryable, so the
 * answer is a 503 with Retry-After (clients such as DeepFabric retry 503, not 429) naming each target's reason.
 */
function allFailed(
  errors: HeddleError[],
  skipped: ReadonlyMap<string, string>,
  stopReason: string | undefined,
  candidates: Candidate[],
  opts: AttemptOptions,
): HeddleError {
  if (opts.signal.aborted) {
    return new HeddleError({ status: 499, type: 'api_error', code: 'cancelled', message: 'The client closed the request.' });
  }
  const reasons = [
    ...errors.map((e) => e.message),
    ...[...skipped].map(([target, reason]) => `Target '${target}' not tried: ${reason}.`),
    ...(stopReason !== undefined ? [`No more retries: ${stopReason}.`] : []),
  ];
  const readyIn = Math.min(...candidates.map((c) => opts.resilience.readyInMs(c.target, opts.config))) / 1000;
  const asked = errors.map((e) => e.retryAfter).filter((s): s is number => s !== undefined);
  const retryAfter = Math.max(1, Math.ceil(Math.min(readyIn > 0 ? readyIn : Infinity, ...asked, 30)));
  const targets = new Set(errors.map((e) => e.target));
  const only = targets.size === 1 ? [...targets][0] : undefined;
  return new HeddleError({
    status: 503,
    type: 'service_unavailable',
    code: errors.length === 0 ? 'no_target_available' : 'all_targets_failed',
    message: `${errors.length === 0 ? 'No target is available' : 'Every attempt failed'}: ${reasons.join(' | ')}`,
    retryAfter,
    ...(only !== undefined && skipped.size === 0 ? { target: only } : {}),
  });
}
