import type { Deps } from './deps.js';

// One error type for the whole gateway. Stages throw or return HeddleError; the HTTP edge turns it into the
// client's dialect (OpenAI `{"error":{message,type,param,code}}` by default). A 500 is always a bug.

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'timeout_error'
  | 'service_unavailable'
  | 'api_error';

export interface HeddleErrorInit {
  status: number;
  message: string;
  type: ErrorType;
  param?: string | null;
  code?: string | null;
  /** Seconds; sent as Retry-After on 429/503. */
  retryAfter?: number;
  /** Target that produced an upstream error, named in the message and a header. */
  target?: string;
  /** True when another target (or a later attempt) may succeed. */
  retryable?: boolean;
}

export class HeddleError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly code: string | null;
  readonly retryAfter: number | undefined;
  readonly target: string | undefined;
  readonly retryable: boolean;

  constructor(init: HeddleErrorInit) {
    super(init.message);
    this.name = 'HeddleError';
    this.status = init.status;
    this.type = init.type;
    this.param = init.param ?? null;
    this.code = init.code ?? null;
    this.retryAfter = init.retryAfter;
    this.target = init.target;
    this.retryable = init.retryable ?? false;
  }

  toJSON(): { error: { message: string; type: ErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new HeddleError({ status: 400, type: 'invalid_request_error', message, param, code });

export const notFound = (message: string, param: string | null = null, code: string | null = null) =>
  new HeddleError({ status: 404, type: 'not_found_error', message, param, code });

/**
 * A thrown value as the HeddleError to answer with. Anything else is a bug: answered as a 500 with no internals in
 * the body, and logged with its stack. Every handler's last catch goes through here, so no bug goes unrecorded.
 */
export function caught(deps: Pick<Deps, 'log'>, where: string, err: unknown): HeddleError {
  if (err instanceof HeddleError) return err;
  deps.log('error', 'unhandled error', { where, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return new HeddleError({ status: 500, type: 'api_error', message: 'Internal error in Heddle (this is a bug).' });
}

/**
 * Headers every dialect sends with an error. With `backPressure`, a 429 (every target rate-limited) is answered
 * as 503 + Retry-After, which DeepFabric and the Ollama clients retry, unlike a 429. Returns the status to send.
 */
export function errorHeaders(error: HeddleError, backPressure: boolean): { status: number; headers: Record<string, string> } {
  const pressured = backPressure && error.status === 429;
  const headers: Record<string, string> = {};
  if (pressured || error.retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfter ?? 1)));
  if (error.target !== undefined) headers['x-heddle-target'] = error.target;
  // Heddle already asked the model several times; the openai and anthropic SDKs honour this header.
  if (error.code === 'structured_output_invalid') headers['x-should-retry'] = 'false';
  return { status: pressured ? 503 : error.status, headers };
}
