import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';

// Runs in Node, outside workerd: a loopback OpenAI-compatible upstream the Worker under test really fetches.
// It answers /v1/chat/completions in OpenAI's wire format exactly (chat.completion, or chat.completion.chunk SSE
// ending in a usage chunk and `data: [DONE]`), and checks the bearer key the policy interpolated from a secret.

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL (`http://127.0.0.1:PORT/v1`) of this upstream, for vitest.workers.config.ts. */
    upstreamUrl: string;
  }
}

export const UPSTREAM_KEY = 'sk-workers-test';
export const UPSTREAM_MODEL = 'upstream-model';
export const STREAM_PARTS = ['Hello', ' from', ' workerd'];

const CREATED = 1_764_000_000;

function completion(model: string): object {
  return {
    id: 'chatcmpl-workers-1',
    object: 'chat.completion',
    created: CREATED,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from workerd', refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 },
    system_fingerprint: null,
  };
}

function chunk(model: string, choices: object[], usage: object | null = null): string {
  const body = { id: 'chatcmpl-workers-2', object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: null, choices, usage };
  return `data: ${JSON.stringify(body)}\n\n`;
}

function streamEvents(model: string): string[] {
  return [
    chunk(model, [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]),
    ...STREAM_PARTS.map((content) => chunk(model, [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }])),
    chunk(model, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
    chunk(model, [], { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 }),
    'data: [DONE]\n\n',
  ];
}

function sendError(res: ServerResponse, status: number, message: string, type: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type, param: null, code: null } }));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return sendError(res, 404, 'Not found', 'invalid_request_error');
  if (req.headers.authorization !== `Bearer ${UPSTREAM_KEY}`) return sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error');
  let text = '';
  for await (const part of req) text += String(part);
  const body = JSON.parse(text) as { model?: string; stream?: boolean };
  const model = body.model ?? 'unknown';
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(completion(model)));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  // One write per event, so the gateway sees separate network chunks.
  for (const event of streamEvents(model)) {
    res.write(event);
    await new Promise((done) => setTimeout(done, 5));
  }
  res.end();
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = createServer((req, res) => {
    handle(req, res).catch(() => sendError(res, 400, 'Bad request body', 'invalid_request_error'));
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  project.provide('upstreamUrl', `http://127.0.0.1:${port}/v1`);
  return () =>
    new Promise<void>((closed) => {
      server.close(() => closed());
      server.closeAllConnections();
    });
}
