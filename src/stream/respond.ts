import type { Aborter } from '../abort.js';
import type { ChatChunk } from '../dialects/openai/schema.js';
import { withFields } from '../fields.js';
import { toHeddleError, type HeddleError } from '../errors.js';
import type { RequestTrace } from '../spine.js';

// One writer for every dialect's streamed chat answer (OpenAI SSE, Anthropic events, Ollama NDJSON).
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

/** One step of a stream body: the bytes to send now, and whether the answer has ended with them. */
export interface StreamStep {
  bytes: Uint8Array[];
  done: boolean;
}

/**
 * A committed chat stream as bytes, pulled step by step by whichever runtime writes it: a web ReadableStream
 * (`streamResponse`: Hono, Workers) or Node's ServerResponse (the Node entry's fast path).
 */
export class StreamBody {
  private readonly iterator: AsyncIterator<ChatChunk>;

  constructor(
    chunks: AsyncIterable<ChatChunk>,
    private readonly writer: StreamWriter,
    private readonly trace: RequestTrace,
    private readonly abort: Aborter,
  ) {
    this.iterator = chunks[Symbol.asyncIterator]();
  }

  /** The bytes of the next chunk that has any; never throws: a failure is the writer's error bytes, and the end. */
  async next(): Promise<StreamStep> {
    try {
      for (;;) {
        const next = await this.iterator.next();
        if (next.done) {
          this.trace.finish(200);
          return { bytes: this.writer.end(), done: true };
        }
        if (next.value.usage) this.trace.usage = next.value.usage;
        const bytes = this.writer.chunk(next.value);
        if (bytes.length === 0) continue;
        this.trace.markFirstByte();
        return { bytes, done: false };
      }
    } catch (err) {
      const error = toHeddleError(err);
      this.trace.finish(error.status, error);
      return { bytes: [this.writer.error(error)], done: true };
    }
  }

  /** The client went away: the upstream call stops. Never rejects: nobody is left to tell of a failure to stop it. */
  async cancel(): Promise<void> {
    this.abort.abort();
    this.trace.finish(499);
    await this.iterator.return?.().catch(() => undefined);
  }
}

/** The headers of a streamed answer: its content type, no caching, and the decision headers. */
export function streamHeaders(contentType: string, headers: Record<string, string>): Record<string, string> {
  return withFields({ 'content-type': contentType, 'cache-control': 'no-cache' }, headers);
}

/** A stream body as a web ReadableStream. */
export function readableOf(body: StreamBody): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { bytes, done } = await body.next();
      for (const b of bytes) controller.enqueue(b);
      if (done) controller.close();
    },
    cancel: () => body.cancel(),
  });
}

export function streamResponse(
  chunks: AsyncIterable<ChatChunk>,
  writer: StreamWriter,
  trace: RequestTrace,
  abort: Aborter,
  headers: Record<string, string>,
): Response {
  const body = new StreamBody(chunks, writer, trace, abort);
  return new Response(readableOf(body), { status: 200, headers: streamHeaders(writer.contentType, headers) });
}
