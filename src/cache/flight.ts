import { Aborter, type AbortLike } from '../abort.js';
import type { ChatChunk, ChatCompletion } from '../dialects/openai/schema.js';
import { HeddleError } from '../errors.js';
import { ChunkAssembler, isComplete, replayChunks } from './answer.js';

// One upstream chat call shared by identical cacheable requests (the leader and its followers). The call runs
// under the flight's own abort signal, aborted only when every participant has gone, so a leader whose client
// leaves does not cut its followers off. A streamed answer is read at the target's pace and its chunks kept for
// the length of the flight (one answer), so a follower that joins late replays them from the start; a follower
// of a non-streaming call that wants a stream gets the answer replayed as chunks. Errors reach every participant
// as they are (before commit as an HTTP error, after commit as the stream's error) and are never stored.

export type UpstreamChat =
  | { kind: 'json'; completion: ChatCompletion; target: string }
  | { kind: 'stream'; chunks: AsyncIterable<ChatChunk>; target: string };

export interface FlightResult {
  completion: ChatCompletion;
  target: string;
  /** A complete answer (every choice finished, nothing the cache cannot rebuild): safe to store. */
  storable: boolean;
}

export class ChatFlight {
  /** Resolves when the target committed (its answer, or its stream's first content), with the target's name. */
  readonly started: Promise<UpstreamChat>;
  /** Resolves at the end of the answer; rejects with the call's error. */
  readonly done: Promise<FlightResult>;
  private readonly controller = new Aborter();
  private participants = 0;
  private readonly chunks: ChatChunk[] = [];
  private ended = false;
  private failure: unknown;
  private wake: Array<() => void> = [];

  /**
   * `onComplete` stores the answer; it runs before the flight ends, so no participant sees the end of the answer
   * (and, on Workers, no request context closes) before the entry is written where `ResponseCache` waits for it.
   */
  constructor(
    call: (signal: AbortLike) => Promise<UpstreamChat>,
    private readonly onAbandon: () => void,
    private readonly onComplete: (result: FlightResult) => Promise<void>,
  ) {
    this.started = call(this.controller.signal);
    this.done = this.started.then((up) => this.consume(up));
    this.done.catch(() => undefined).finally(() => this.end());
    // Every participant awaits these; the catch only keeps an abandoned flight from an unhandled rejection.
    this.started.catch(() => undefined);
  }

  /** Counts a participant until `leave` is called or its client goes away. Returns the leave function. */
  join(signal: AbortLike): () => void {
    this.participants++;
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      signal.removeEventListener('abort', leave);
      this.participants--;
      if (this.participants === 0 && !this.ended) {
        this.onAbandon();
        this.controller.abort(
          new HeddleError({ status: 499, type: 'api_error', code: 'cancelled', message: 'The client closed the request.' }),
        );
      }
    };
    if (signal.aborted) queueMicrotask(leave);
    else signal.addEventListener('abort', leave, { once: true });
    return leave;
  }

  /** The answer as chunks, from the first one; `leave` runs when the reader finishes or stops. */
  async *stream(up: UpstreamChat, leave: () => void): AsyncIterable<ChatChunk> {
    try {
      if (up.kind === 'json') {
        for (const c of replayChunks(up.completion)) yield c;
        return;
      }
      let i = 0;
      for (;;) {
        // A copy per reader: the SSE writer drops fields (usage) a client did not ask for.
        while (i < this.chunks.length) yield { ...(this.chunks[i++] as ChatChunk) };
        if (this.ended) {
          if (this.failure !== undefined) throw this.failure;
          return;
        }
        await new Promise<void>((resolve) => this.wake.push(resolve));
      }
    } finally {
      leave();
    }
  }

  private async consume(up: UpstreamChat): Promise<FlightResult> {
    const result = await this.collect(up);
    await this.onComplete(result);
    return result;
  }

  private async collect(up: UpstreamChat): Promise<FlightResult> {
    if (up.kind === 'json') return { completion: up.completion, target: up.target, storable: isComplete(up.completion) };
    const assembler = new ChunkAssembler();
    try {
      for await (const chunk of up.chunks) {
        assembler.add(chunk);
        this.chunks.push(chunk);
        this.notify();
      }
    } catch (err) {
      this.failure = err;
      throw err;
    }
    const completion = assembler.completion();
    if (completion === undefined) {
      const error = new HeddleError({ status: 502, type: 'upstream_error', code: 'empty_stream', message: `Target '${up.target}' sent an empty stream.`, target: up.target });
      this.failure = error;
      throw error;
    }
    return { completion, target: up.target, storable: assembler.storable && isComplete(completion) };
  }

  private end(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const waiting = this.wake;
    this.wake = [];
    for (const w of waiting) w();
  }
}
