import { abortSignalOf, type AbortLike } from '../abort.js';

// The one way the gateway talks to upstreams. Node injects an undici-backed implementation (keep-alive pools,
// no web-stream overhead on the hot path); Workers inject one over global fetch.

export interface UpstreamRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal?: AbortLike;
  /** Milliseconds until the TCP/TLS connection must be up, where the runtime controls it (Node). */
  connectTimeoutMs?: number;
}

export interface UpstreamResponse {
  status: number;
  header(name: string): string | null;
  text(): Promise<string>;
  /** Raw body bytes as they arrive; ends when the body ends, throws if the connection breaks. */
  chunks(): AsyncIterable<Uint8Array>;
  /** Release the connection without reading the rest. */
  discard(): void;
}

export type HttpSend = (req: UpstreamRequest) => Promise<UpstreamResponse>;

/** HttpSend over the web-standard fetch (Workers, tests). */
export function fetchHttpSend(fetchImpl: typeof fetch = fetch): HttpSend {
  return async (req) => {
    const res = await fetchImpl(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body ?? null,
      signal: req.signal === undefined ? null : abortSignalOf(req.signal),
    });
    return {
      status: res.status,
      header: (name) => res.headers.get(name),
      text: () => res.text(),
      chunks: () => readBody(res.body),
      discard: () => void res.body?.cancel().catch(() => undefined),
    };
  };
}

async function* readBody(body: ReadableStream<Uint8Array> | null): AsyncIterable<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
