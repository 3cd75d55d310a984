import { boardSchema, type SharedOpening } from './shared.js';

// The Durable Object behind SharedBreakers: one board per Worker (named "breakers"), holding the latest opening
// per target. In memory only: openings last seconds (a cooldown), so losing them when the object is evicted
// costs at most one rediscovery per isolate. Bound in wrangler.toml as HEDDLE_BREAKERS (class HeddleBreakers).

export class HeddleBreakers {
  private readonly openings = new Map<string, SharedOpening>();

  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (request.method === 'POST' && path === '/report') {
      const parsed = boardSchema.safeParse(await request.json().catch(() => undefined));
      if (!parsed.success) return new Response('invalid board report', { status: 400 });
      for (const o of parsed.data.openings) this.openings.set(o.target, o);
      return new Response(null, { status: 204 });
    }
    if (request.method === 'GET' && path === '/snapshot') {
      const now = Date.now();
      for (const [target, o] of this.openings) if (o.state === 'closed' || o.untilEpochMs <= now) this.openings.delete(target);
      return Response.json({ openings: [...this.openings.values()] });
    }
    return new Response('not found', { status: 404 });
  }
}
