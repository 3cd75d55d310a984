import type { Aborter } from '../abort.js';
import type { ChatChunk } from '../dialects/openai/schema.js';
import { withFields } from '../fields.js';
import type { HeddleError } from '../errors.js';
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

/**
 * Whether a chunk commits a stream: it carries content, a tool call, a refusal or a finish. Chunks before it (the
 * role-only opener) are held back by the attempt loop, so a failover before it stays invisible to the client.
 */
export function hasContent(chunk: ChatChunk): boolean {
  return chunk.choices.some(
    (c) => (c.delta.content ?? '') !== '' || (c.delta.tool_calls?.length ?? 0) > 0 || c.finish_reason != null || c.delta.refusal,
  );
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
  /** Whether the first step (the chunks up to the first content) has been returned. */
  private opened = false;

  constructor(
    chunks: AsyncIterable<ChatChunk>,
    private readonly writer: StreamWriter,
    private readonly trace: RequestTrace,
    private readonly abort: Aborter,
  ) {
    this.iterator = chunks[Symbol.asyncIterator]();
  }

  /**
   * The bytes of the next chunk that has any; the first step gathers every chunk up to the first content (they were
   * read before commit and are at hand), so that they leave in one write with the head. Never throws: a failure is
   * the writer's error bytes, and the end.
   */
  async next(): Promise<StreamStep> {
    const bytes: Uint8Array[] = [];
    try {
      for (;;) {
        const next = await this.iterator.next();
        if (next.done) {
          this.trace.finish(200);
          bytes.push(...this.writer.end());
          return { bytes, done: true };
        }
        if (next.value.usage) this.trace.usage = next.value.usage;
        bytes.push(...this.writer.chunk(next.value));
        if (bytes.length === 0 || !(this.opened || hasContent(next.value))) continue;
        this.opened = true;
        this.trace.markFirstByte();
        return { bytes, done: false };
      }
    } catch (err) {
      bytes.push(this.writer.error(this.trace.failed(err)));
      return { bytes, done: true };
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
