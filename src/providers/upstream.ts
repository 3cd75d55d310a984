import type { z } from 'zod';
import { HeddleError } from '../errors.js';
import { JsonTooDeep, parseJson } from '../json.js';
import type { UpstreamRequest, UpstreamResponse } from './http.js';
import type { CallContext } from './types.js';

// Shared by every adapter: send, turn failures into HeddleError (status relayed, target named), and validate
// answers with zod so nothing malformed from upstream reaches a client.

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

export async function send(ctx: CallContext, req: Omit<UpstreamRequest, 'signal'>): Promise<UpstreamResponse> {
  let res: UpstreamResponse;
  try {
    const { url, method, headers, body } = req;
    res = await ctx.http({ url, method, headers, body, signal: ctx.signal, connectTimeoutMs: ctx.connectTimeoutMs });
  } catch (err) {
    if (ctx.signal.aborted) throw abortError(ctx);
    throw new HeddleError({
      status: 502,
      type: 'upstream_error',
      message: `Target '${ctx.target.name}' could not be reached: ${describe(err)}`,
      target: ctx.target.name,
      code: 'upstream_unreachable',
      retryable: true,
    });
  }
  if (res.status >= 400) throw await upstreamStatusError(ctx, res);
  return res;
}

/** `plain`: a direct check of the answer's common shape (dialects/openai/plain.ts); zod decides the rest. */
export async function readJson<S extends z.ZodType>(
  ctx: CallContext,
  res: UpstreamResponse,
  schema: S,
  plain?: (json: unknown) => z.output<S> | undefined,
): Promise<z.output<S>> {
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    if (ctx.signal.aborted) throw abortError(ctx);
    throw brokenAnswer(ctx, `the connection broke while reading the answer (${describe(err)})`);
  }
  return parseAnswer(ctx, text, schema, plain);
}

export function parseAnswer<S extends z.ZodType>(
  ctx: CallContext,
  text: string,
  schema: S,
  plain?: (json: unknown) => z.output<S> | undefined,
): z.output<S> {
  let json: unknown;
  try {
    json = parseJson(text);
  } catch (err) {
    throw brokenAnswer(ctx, notJson('the answer', err));
  }
  const fast = plain?.(json);
  if (fast !== undefined) return fast;
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw brokenAnswer(ctx, `the answer does not match the expected shape at '${issue?.path.join('.') ?? ''}'`);
  }
  return parsed.data;
}

export function brokenAnswer(ctx: CallContext, why: string): HeddleError {
  return new HeddleError({
    status: 502,
    type: 'upstream_error',
    message: `Target '${ctx.target.name}' sent an invalid answer: ${why}.`,
    target: ctx.target.name,
    code: 'upstream_invalid_response',
    retryable: true,
  });
}

/** What a failed stream read means: an error we raised as is, a cancellation or timeout, or a broken connection. */
export function streamFailure(ctx: CallContext, err: unknown): HeddleError {
  if (err instanceof HeddleError) return err;
  if (ctx.signal.aborted) return abortError(ctx);
  return brokenAnswer(ctx, `the stream broke (${err instanceof Error ? err.message : String(err)})`);
}

/** One stream event's JSON; invalid JSON is a broken answer. */
export function parseEventJson(ctx: CallContext, data: string): unknown {
  try {
    return parseJson(data);
  } catch (err) {
    throw brokenAnswer(ctx, notJson('a stream event', err));
  }
}

/** Why `what` failed to parse: too deep, or not JSON at all. */
function notJson(what: string, err: unknown): string {
  return err instanceof JsonTooDeep ? `${what} is ${err.message}` : `${what} is not valid JSON`;
}

export function abortError(ctx: CallContext): HeddleError {
  const reason: unknown = ctx.signal.reason;
  if (reason instanceof HeddleError) return reason;
  return new HeddleError({
    status: 499,
    type: 'api_error',
    message: `Request to target '${ctx.target.name}' was cancelled.`,
    target: ctx.target.name,
    code: 'cancelled',
  });
}

async function upstreamStatusError(ctx: CallContext, res: UpstreamResponse): Promise<HeddleError> {
  let detail = '';
  try {
    detail = extractMessage(await res.text());
  } catch {
    // The status alone still says what happened.
  }
  const retryAfter = parseRetryAfter(res.header('retry-after-ms'), res.header('retry-after'));
  return new HeddleError({
    status: res.status,
    type: res.status === 429 ? 'rate_limit_error' : 'upstream_error',
    message: `Target '${ctx.target.name}' answered ${res.status}${detail ? `: ${detail}` : ''}`,
    target: ctx.target.name,
    code: 'upstream_error',
    retryable: RETRYABLE_STATUS.has(res.status),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  });
}

/** The human message from an OpenAI, Anthropic, Gemini or Ollama error body, bounded in length. */
function extractMessage(body: string): string {
  let message = body;
  try {
    const json: unknown = JSON.parse(body);
    const found = findMessage(json);
    if (found) message = found;
  } catch {
    // Not JSON: keep the text.
  }
  return message.length > 500 ? `${message.slice(0, 500)}…` : message;
}

function findMessage(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const obj = json as Record<string, unknown>;
  if (typeof obj.message === 'string') return obj.message;
  if (typeof obj.error === 'string') return obj.error;
  if (typeof obj.detail === 'string') return obj.detail;
  return findMessage(obj.error);
}

/** Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date); undefined when absent or invalid. */
export function parseRetryAfter(ms: string | null, value: string | null, now = Date.now()): number | undefined {
  if (ms !== null) {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return n / 1000;
  }
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  if (Number.isFinite(date)) return Math.max(0, (date - now) / 1000);
  return undefined;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : undefined;
    return code ?? err.message;
  }
  return String(err);
}
