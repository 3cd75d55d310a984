import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { Deps } from './deps.js';
import { anthropicErrorResponse, mountAnthropic } from './dialects/anthropic/http.js';
import { mountOllama, ollamaErrorResponse } from './dialects/ollama/http.js';
import { mountOpenAi, openAiErrorResponse } from './dialects/openai/http.js';
import { tooLarge } from './dialects/openai/parse.js';
import { caught, HeddleError } from './errors.js';

// The runtime-agnostic gateway. Node (src/node.ts) and Workers (src/worker.ts) inject the dependencies.

export type HeddleEnv = { Variables: Record<string, never> };

export function createApp(deps: Deps): Hono<HeddleEnv> {
  const app = new Hono<HeddleEnv>();

  app.use('/v1/*', bodyLimit(deps));
  app.use('/api/*', bodyLimit(deps));

  app.get('/health', (c) => c.json({ status: 'ok' }));

  app.get('/ready', (c) => {
    const { policy } = deps.policy();
    // Ready while some target can take a request now: configured, and not refused by its breaker or health probe.
    const usable: string[] = [];
    const unavailable: Record<string, string> = {};
    for (const t of policy.targets.values()) {
      const why = t.unusable ?? deps.resilience.refusal(t, policy.resilience)?.reason;
      if (why === undefined) usable.push(t.name);
      else unavailable[t.name] = why;
    }
    const body = { status: usable.length > 0 ? 'ready' : 'no_usable_target', policy: policy.source, targets: usable, unavailable };
    return c.json(body, usable.length > 0 ? 200 : 503);
  });

  if (deps.metrics) {
    const metrics = deps.metrics;
    app.get('/metrics', (c) => {
      const { policy } = deps.policy();
      for (const b of deps.resilience.breakerStates(policy.targets.keys(), policy.resilience)) metrics.breakerState(b.target, b.state);
      return c.text(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    });
  }

  mountOpenAi(app, deps);
  mountOllama(app, deps);
  mountAnthropic(app, deps);

  app.notFound((c) =>
    errorResponse(
      c,
      new HeddleError({ status: 404, type: 'not_found_error', code: 'unknown_url', message: `Unknown path: ${c.req.method} ${c.req.path}` }),
    ),
  );

  app.onError((err, c) => errorResponse(c, caught(deps, c.req.path, err)));

  return app;
}

/** An error the handlers did not answer themselves (body limit, unknown path, a bug), in the client's dialect. */
function errorResponse(c: Context<HeddleEnv>, error: HeddleError): Response {
  const path = c.req.path;
  if (path.startsWith('/v1/messages')) return anthropicErrorResponse(c, error);
  if (path.startsWith('/api/')) return ollamaErrorResponse(c, error);
  return openAiErrorResponse(error);
}

/** Rejects bodies over the policy's limit before they are parsed (413, in the client's dialect). */
function bodyLimit(deps: Deps): MiddlewareHandler<HeddleEnv> {
  return async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const limit = deps.policy().policy.maxBodyBytes;
    const declared = c.req.header('content-length');
    if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
    if (declared === undefined) {
      const text = await c.req.text();
      if (new TextEncoder().encode(text).byteLength > limit) throw tooLarge(limit);
    }
    return next();
  };
}
