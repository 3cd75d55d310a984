import * as z from 'zod';

// Breaker openings shared between Workers isolates through one Durable Object (src/resilience/durable.ts). Each
// isolate keeps its own breakers; when one opens or closes, the isolate reports it, and every isolate pulls the
// board now and then, opening its own breaker for what remains of another isolate's cooldown. So one isolate's
// failures spare the others from rediscovering a dead target. Times on the board are epoch milliseconds.

export const openingSchema = z.strictObject({
  target: z.string().min(1),
  state: z.enum(['open', 'closed']),
  /** For `open`: when the cooldown ends (epoch ms). */
  untilEpochMs: z.number(),
});

export type SharedOpening = z.output<typeof openingSchema>;

export const boardSchema = z.strictObject({ openings: z.array(openingSchema) });

/** The slice of a Durable Object stub this uses (kept structural: src/ compiles against DOM types). */
export interface BoardStub {
  fetch(input: string, init?: RequestInit): Promise<Response>;
}

export class SharedBreakers {
  private queue: SharedOpening[] = [];
  private pulledAt = -Infinity;

  constructor(
    private readonly stub: BoardStub,
    /** How often `sync` pulls the board (ms). */
    private readonly pullEveryMs = 2000,
  ) {}

  /** Remember a transition of a local breaker; sent on the next `sync`. */
  report(opening: SharedOpening): void {
    this.queue.push(opening);
  }

  /** Sends queued transitions, and pulls the board when it is due; `apply` gets the openings in force. */
  async sync(nowEpochMs: number, apply: (openings: SharedOpening[]) => void, force = false): Promise<void> {
    const sending = this.queue;
    this.queue = [];
    if (sending.length > 0) {
      await this.stub.fetch('https://breakers/report', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ openings: sending }),
      });
    }
    if (!force && nowEpochMs - this.pulledAt < this.pullEveryMs) return;
    this.pulledAt = nowEpochMs;
    const res = await this.stub.fetch('https://breakers/snapshot');
    const parsed = boardSchema.safeParse(await res.json());
    if (parsed.success) apply(parsed.data.openings);
  }

  get pending(): number {
    return this.queue.length;
  }
}
