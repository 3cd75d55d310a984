import type { Context, Hono } from 'hono';
import type { HeddleEnv } from '../../app.js';
import { remoteAddressOf } from '../../auth/index.js';
import type { Deps } from '../../deps.js';
import { HeddleError } from '../../errors.js';
import { mountExplain } from '../../explain/index.js';
import { webResponse } from '../answer.js';
import { chatCompletions, embeddings, openAiErrorAnswer, type EdgeCall } from './serve.js';

// The OpenAI dialect's HTTP edge on Hono: /v1/chat/completions and /v1/embeddings (serve.ts, shared with the Node
// entry's fast path), /v1/models. Any HeddleError thrown here reaches the app's error handler (openAiErrorResponse).

export function mountOpenAi(app: Hono<HeddleEnv>, deps: Deps): void {
  mountExplain(app, deps);

  app.post('/v1/chat/completions', async (c) => webResponse(await chatCompletions(deps, await c.req.text(), caller(c))));

  app.post('/v1/embeddings', async (c) => webResponse(await embeddings(deps, await c.req.text(), caller(c))));

  app.get('/v1/models', (c) => {
    const { policy } = deps.policy();
    return c.json({
      object: 'list',
      data: policy.exposedModels.map((id) => ({ id, object: 'model', created: 0, owned_by: 'heddle' })),
    });
  });

  app.get('/v1/models/:id', (c) => {
    const id = c.req.param('id');
    if (!deps.policy().policy.exposedModels.includes(id)) {
      throw new HeddleError({ status: 404, type: 'not_found_error', code: 'model_not_found', param: 'model', message: `The model '${id}' does not exist on this gateway.` });
    }
    return c.json({ id, object: 'model', created: 0, owned_by: 'heddle' });
  });
}

function caller(c: Context<HeddleEnv>): EdgeCall {
  return { headers: c.req.raw.headers, signal: c.req.raw.signal, remoteAddress: remoteAddressOf(c.env) };
}

/** OpenAI's error shape (serve.ts) as a web Response. */
export function openAiErrorResponse(error: HeddleError): Response {
  return webResponse(openAiErrorAnswer(error));
}
