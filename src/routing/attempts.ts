import type { ChatChunk, ChatCompletion, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../dialects/openai/schema.js';
import { HeddleError, toHeddleError } from '../errors.js';
import type { HttpSend } from '../providers/http.js';
import { adapterFor } from '../providers/index.js';
import type { CallContext } from '../providers/types.js';
import type { Candidate } from './route.js';

// Stage 6: the attempt loop. A plain loop over the candidates in order; each attempt runs under its own
// AbortController (client disconnect, first-byte and total timeouts all abort the upstream call). Errors are
// collected in order; a non-retryable one (the client's own mistake, relayed by the target) stops the loop.
// A stream commits at its first content chunk: until then failover is invisible, after it errors go to the client.

export interface Timeouts {
  /** Seconds until the first content chunk (or the whole answer, when not streaming). */
  firstByte: number;
  /** Seconds allowed between two stream chunks. */
  idle: number;
  /** Seconds for the whole answer. */
  total: number;
}

export interface AttemptOptions {
  http: HttpSend;
  timeouts: Timeouts;
  /** Aborts every attempt (the client went away). */
  signal: AbortSignal;
  /** Filled in order with each attempt's outcome, for the audit line (also when every attempt fails). */
  attempts: AttemptRecord[];
}

export interface AttemptRecord {
  target: string;
  error?: string;
  status?: number;
}

export interface Served<T> {
  value: T;
  candidate: Candidate;
}

export async function attemptChat(req: ChatRequest, candidates: Candidate[], opts: AttemptOptions): Promise<Served<ChatCompletion>> {
  return loop(candidates, opts, async (candidate, ctx, deadline) => {
    deadline.arm(opts.timeouts.firstByte, 'first_byte');
    try {
      return await adapterFor(candidate.target.kind).chat(req, ctx);
    } finally {
      deadline.release();
    }
  });
}

export async function attemptEmbeddings(
  req: EmbeddingsRequest,
  candidates: Candidate[],
  opts: AttemptOptions,
): Promise<Served<EmbeddingsResponse>> {
  return loop(candidates, opts, async (candidate, ctx, deadline) => {
    deadline.arm(opts.timeouts.firstByte, 'first_byte');
    try {
      return await adapterFor(candidate.target.kind).embeddings(req, ctx);
    } finally {
      deadline.release();
    }
  });
}

/** A committed stream: the chunks read before commit, then the rest, under idle and total timeouts. */
export async function attemptChatStream(
  req: ChatRequest,
  candidates: Candidate[],
  opts: AttemptOptions,
): Promise<Served<AsyncIterable<ChatChunk>>> {
  return loop(candidates, opts, async (candidate, ctx, deadline) => {
    deadline.arm(opts.timeouts.firstByte, 'first_byte');
    const iterator = (await adapterFor(candidate.target.kind).chatStream(req, ctx))[Symbol.asyncIterator]();
    const buffered: ChatChunk[] = [];
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        buffered.push(next.value);
        if (hasContent(next.value)) break;
      }
    } catch (err) {
      deadline.release();
      throw err;
    }
    deadline.arm(opts.timeouts.idle, 'idle');
    return committed(buffered, iterator, deadline, opts.timeouts.idle);
  }, true);
}

async function* committed(
  buffered: ChatChunk[],
  iterator: AsyncIterator<ChatChunk>,
  deadline: Deadline,
  idle: number,
): AsyncIterable<ChatChunk> {
  try {
    yield* buffered;
    for (;;) {
      deadline.arm(idle, 'idle');
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    deadline.finish();
    // Stops the upstream read when the client goes away mid-stream.
    await iterator.return?.();
  }
}

function hasContent(chunk: ChatChunk): boolean {
  return chunk.choices.some(
    (c) => (c.delta.content ?? '') !== '' || (c.delta.tool_calls?.length ?? 0) > 0 || c.finish_reason != null || c.delta.refusal,
  );
}

type Attempt<T> = (candidate: Candidate, ctx: CallContext, deadline: Deadline) => Promise<T>;

async function loop<T>(candidates: Candidate[], opts: AttemptOptions, attempt: Attempt<T>, keepsRunning = false): Promise<Served<T>> {
  const { attempts } = opts;
  const errors: HeddleError[] = [];
  for (const candidate of candidates) {
    if (opts.signal.aborted) break;
    const deadline = new Deadline(candidate.target.name, opts.signal, opts.timeouts.total);
    const ctx: CallContext = { http: opts.http, target: candidate.target, model: candidate.model, signal: deadline.signal };
    try {
      const value = await attempt(candidate, ctx, deadline);
      if (!keepsRunning) deadline.finish();
      attempts.push({ target: candidate.target.name });
      return { value, candidate };
    } catch (err) {
      deadline.finish();
      const error = toHeddleError(err);
      attempts.push({ target: candidate.target.name, error: error.code ?? error.type, status: error.status });
      errors.push(error);
      if (!error.retryable) throw error;
    }
  }
  throw allFailed(errors, opts.signal);
}

function allFailed(errors: HeddleError[], signal: AbortSignal): HeddleError {
  if (signal.aborted) {
    return new HeddleError({ status: 499, type: 'api_error', code: 'cancelled', message: 'The client closed the request.' });
  }
  const only = errors[0];
  if (errors.length === 1 && only !== undefined) return only;
  const retryAfters = errors.map((e) => e.retryAfter).filter((s): s is number => s !== undefined);
  return new HeddleError({
    status: 503,
    type: 'service_unavailable',
    code: 'all_targets_failed',
    message: `Every target failed: ${errors.map((e) => e.message).join(' | ')}`,
    retryAfter: retryAfters.length > 0 ? Math.min(...retryAfters) : 1,
  });
}

/**
 * One attempt's abort controller with its timers: the total timeout runs from the start; `arm` (re)starts the
 * phase timer (first byte, then idle between chunks). A timer that fires aborts the upstream call with a
 * retryable timeout error naming the phase.
 */
class Deadline {
  private readonly controller = new AbortController();
  private phase: ReturnType<typeof setTimeout> | undefined;
  private readonly total: ReturnType<typeof setTimeout>;
  private readonly onClientAbort = () => this.controller.abort(this.parent.reason);

  constructor(
    private readonly target: string,
    private readonly parent: AbortSignal,
    totalSeconds: number,
  ) {
    this.total = setTimeout(() => this.expire('total', totalSeconds), totalSeconds * 1000);
    parent.addEventListener('abort', this.onClientAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  arm(seconds: number, phase: 'first_byte' | 'idle'): void {
    if (this.phase !== undefined) clearTimeout(this.phase);
    this.phase = setTimeout(() => this.expire(phase, seconds), seconds * 1000);
  }

  release(): void {
    if (this.phase !== undefined) clearTimeout(this.phase);
    this.phase = undefined;
  }

  finish(): void {
    this.release();
    clearTimeout(this.total);
    this.parent.removeEventListener('abort', this.onClientAbort);
  }

  private expire(phase: string, seconds: number): void {
    this.controller.abort(
      new HeddleError({
        status: 504,
        type: 'timeout_error',
        code: `timeout_${phase}`,
        message: `Target '${this.target}' exceeded the ${phase.replace('_', ' ')} timeout of ${seconds}s.`,
        target: this.target,
        retryable: true,
      }),
    );
  }
}
