import type {
  ChatChunk,
  ChatCompletion,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../dialects/openai/schema.js';
import type { AbortLike } from '../abort.js';
import type { HttpSend } from './http.js';

export type TargetKind =
  | 'fastllm'
  | 'ollama'
  | 'openai'
  | 'openrouter'
  | 'together'
  | 'openai-compatible'
  | 'anthropic'
  | 'gemini';

/** A target as the adapters see it: resolved once from the policy, immutable. */
export interface Target {
  name: string;
  kind: TargetKind;
  /** Base URL without a trailing slash (see each adapter for what it appends). */
  url: string;
  apiKey: string | undefined;
  headers: Readonly<Record<string, string>>;
  /** How it meets JSON-schema requests (src/structured); absent means native. */
  structuredOutput?: 'native' | 'emulate';
}

export interface CallContext {
  http: HttpSend;
  target: Target;
  /** The model id the target knows (after alias resolution). */
  model: string;
  signal: AbortLike;
  /** The target's connect timeout for this route, in milliseconds. */
  connectTimeoutMs?: number;
}

/**
 * An outbound adapter: the canonical (OpenAI) request in, OpenAI-shaped answers out.
 * Failures are thrown as HeddleError with `target` set and `retryable` true for connection errors,
 * timeouts, 408, 429 and 5xx. `chatStream` resolves once the upstream accepted the request (status checked),
 * so a refusal before the first byte is a thrown error, not a broken stream.
 */
export interface ProviderAdapter {
  chat(req: ChatRequest, ctx: CallContext): Promise<ChatCompletion>;
  chatStream(req: ChatRequest, ctx: CallContext): Promise<AsyncIterable<ChatChunk>>;
  embeddings(req: EmbeddingsRequest, ctx: CallContext): Promise<EmbeddingsResponse>;
}
