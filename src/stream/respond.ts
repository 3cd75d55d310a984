import type { ChatChunk } from '../dialects/openai/schema.js';
import { toHeddleError, type HeddleError } from '../errors.js';
import type { RequestTrace } from '../spine.js';

// One writer for every dialect's streamed chat answer (OpenAI SSE, Anthropic SSE events, Ollama NDJSON).
// Pull-based: a chunk is read from upstream only when the client has taken the last one, so a slow client slows
// the upstream read instead of filling memory. A failure after commit ends with the dialect's explicit error,
// never a clean-looking end; a client that leaves aborts the upstream call.

/** How one dialect writes a committed chat stream. */
export interface StreamWriter {
  contentType: string;
  /** Bytes for one chunk; none means nothing is sent for it and the next chunk is read at once. */
  chunk(chunk: ChatChunk): Uint8Array[];
  /** Bytes that end a complete answer. */
  end(): Uint8Array[];
  /** Bytes that end a broken answer. */
  error(error: HeddleError): Uint8Array;
}

export function streamResponse(
  chunks: AsyncIterable<ChatChunk>,
  writer: StreamWriter,
  trace: RequestTrace,
  abort: AbortController,
  headers: Record<string, string>,
): Response {
  const iterator = chunks[Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          const next = await iterator.next();
          if (next.done) {
            for (const bytes of writer.end()) controller.enqueue(bytes);
            controller.close();
            trace.finish(200);
            return;
          }
          if (next.value.usage) trace.usage = next.value.usage;
          const out = writer.chunk(next.value);
          if (out.length === 0) continue;
          trace.markFirstByte();
          for (const bytes of out) controller.enqueue(bytes);
          return;
        }
      } catch (err) {
        const error = toHeddleError(err);
        controller.enqueue(writer.error(error));
        controller.close();
        trace.finish(error.status, error);
      }
    },
    async cancel() {
      abort.abort();
      trace.finish(499);
      await iterator.return?.();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': writer.contentType, 'cache-control': 'no-cache', ...headers } });
}
