import { connect } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/observability/audit.js';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// The Node entry serves POST /v1/chat/completions and /v1/embeddings from node:http directly (src/node/fast-path.ts)
// instead of through Hono. Two gateways with the same policy, one with the fast path and one without, each over its
// own fake upstream, get the same requests in the same order over raw sockets: status, headers (but Date and the
// request id), body bytes and audit lines must be the same. Then the real openai SDK against the fast path:
// answers, errors, body limits, and a client that leaves reaching the upstream.

const policy = (up: FakeOpenAi) => `
version: 1
targets:
  up: { kind: openai-compatible, url: ${up.baseURL}, clearance: restricted }
  # Rate-limited answers cool a target down; this one takes them so that 'up' stays available.
  cooled: { kind: openai-compatible, url: ${up.baseURL}, clearance: restricted }
models:
  chat: { up: echo }
  tooly: { up: tool }
  broken: { up: stream-break }
  stall: { up: stall }
  hang: { up: hang }
  relay: { up: error-400 }
  limited: { cooled: error-429 }
routes:
  - { name: limited, match: { model: limited }, targets: [cooled] }
  - { name: main, match: { model: [chat, tooly, broken, stall, hang, relay] }, targets: [up] }
limits: { max_body_bytes: 4096 }
resilience: { retries: 0, timeouts: { first_byte: 5s, idle: 2s } }
`;

interface Side {
  upstream: FakeOpenAi;
  gateway: TestGateway;
  audit: AuditRecord[];
}

let fast: Side;
let hono: Side;

async function side(fastPath: boolean): Promise<Side> {
  const upstream = await startFakeOpenAi();
  const audit: AuditRecord[] = [];
  const gateway = await startTestGateway(policy(upstream), {}, (r) => audit.push(r), { fastPath });
  return { upstream, gateway, audit };
}

beforeAll(async () => {
  fast = await side(true);
  hono = await side(false);
});

afterAll(async () => {
  for (const s of [fast, hono]) {
    await s?.gateway.close();
    await s?.upstream.close();
  }
});

interface RawRequest {
  method?: string;
  path?: string;
  /** Extra header lines, sent as given (repeats included). */
  headers?: Array<[string, string]>;
  body?: string | Buffer;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

interface RawResponse {
  status: number;
  /** Lower-case names; repeats joined with ", "; without Date and x-request-id. */
  headers: Record<string, string>;
  hasRequestId: boolean;
  /** The body with any chunked framing removed. */
  body: string;
}

/** One request on a fresh connection, written byte by byte as given, and the whole answer read back. */
function exchange(port: number, r: RawRequest): Promise<RawResponse> {
  const body = typeof r.body === 'string' ? Buffer.from(r.body) : (r.body ?? Buffer.alloc(0));
  const lines = [`${r.method ?? 'POST'} ${r.path ?? '/v1/chat/completions'} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close'];
  for (const [k, v] of r.headers ?? [['content-type', 'application/json']]) lines.push(`${k}: ${v}`);
  lines.push(r.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
  const framed = r.chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('error', reject);
    socket.on('end', () => resolve(parseResponse(Buffer.concat(parts))));
    socket.write(Buffer.concat([head, framed]));
  });
}

function parseResponse(raw: Buffer): RawResponse {
  const split = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...headerLines] = raw.subarray(0, split).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = raw.subarray(split + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  const hasRequestId = headers['x-request-id'] !== undefined;
  delete headers.date;
  delete headers['x-request-id'];
  return { status: Number(statusLine.split(' ')[1]), headers, hasRequestId, body: body.toString('utf8') };
}

function dechunk(framed: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = framed.indexOf('\r\n', at);
    const size = Number.parseInt(framed.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) return Buffer.concat(out);
    out.push(framed.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

const json = (value: unknown) => JSON.stringify(value);
const user = (content: string) => [{ role: 'user', content }];

interface Case {
  name: string;
  request: RawRequest;
  status: number;
}

const cases: Case[] = [
  { name: 'a chat completion', request: { body: json({ model: 'chat', messages: user('hello there') }) }, status: 200 },
  {
    name: 'a streamed chat completion with usage',
    request: { body: json({ model: 'chat', messages: user('one two three'), stream: true, stream_options: { include_usage: true } }) },
    status: 200,
  },
  { name: 'a streamed chat completion without usage', request: { body: json({ model: 'chat', messages: user('four five'), stream: true }) }, status: 200 },
  {
    name: 'a streamed tool call',
    request: {
      body: json({ model: 'tooly', messages: user('weather?'), stream: true, tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] }),
    },
    status: 200,
  },
  { name: 'a deterministic request (a cache miss)', request: { body: json({ model: 'chat', messages: user('cache me'), temperature: 0 }) }, status: 200 },
  { name: 'the same request again (a cache hit)', request: { body: json({ model: 'chat', messages: user('cache me'), temperature: 0 }) }, status: 200 },
  { name: 'the cache hit replayed as a stream', request: { body: json({ model: 'chat', messages: user('cache me'), temperature: 0, stream: true }) }, status: 200 },
  { name: 'embeddings of a string', request: { path: '/v1/embeddings', body: json({ model: 'chat', input: 'hello world' }) }, status: 200 },
  { name: 'embeddings of an array, base64', request: { path: '/v1/embeddings', body: json({ model: 'chat', input: ['a', 'b c'], encoding_format: 'base64' }) }, status: 200 },
  { name: 'a query string on the path', request: { path: '/v1/chat/completions?debug=1', body: json({ model: 'chat', messages: user('q') }) }, status: 200 },
  { name: 'a body with a UTF-8 BOM', request: { body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json({ model: 'chat', messages: user('bom') }))]) }, status: 200 },
  { name: 'a chunked body', request: { body: json({ model: 'chat', messages: user('chunked') }), chunked: true }, status: 200 },
  { name: 'non-ASCII content', request: { body: json({ model: 'chat', messages: user('héllo wörld ✓ 日本') }) }, status: 200 },
  { name: 'invalid JSON', request: { body: '{"model": "chat", ' }, status: 400 },
  { name: 'an empty body', request: { body: '' }, status: 400 },
  { name: 'a JSON array', request: { body: '[1,2]' }, status: 400 },
  { name: 'missing messages', request: { body: json({ model: 'chat' }) }, status: 400 },
  { name: 'a message of the wrong type', request: { body: json({ model: 'chat', messages: [{ role: 'user', content: 5 }] }) }, status: 400 },
  { name: 'temperature out of range', request: { body: json({ model: 'chat', messages: user('x'), temperature: 3 }) }, status: 400 },
  { name: 'embeddings without input', request: { path: '/v1/embeddings', body: json({ model: 'chat' }) }, status: 400 },
  { name: 'an unknown model', request: { body: json({ model: 'nope', messages: user('x') }) }, status: 404 },
  { name: 'a body over the limit (declared length)', request: { body: json({ model: 'chat', messages: user('x'.repeat(5000)) }) }, status: 413 },
  { name: 'a body over the limit (chunked)', request: { body: json({ model: 'chat', messages: user('x'.repeat(5000)) }), chunked: true }, status: 413 },
  {
    name: 'an invalid privacy header',
    request: { headers: [['content-type', 'application/json'], ['x-heddle-privacy', 'secret']], body: json({ model: 'chat', messages: user('x') }) },
    status: 400,
  },
  {
    name: 'x-heddle-cache: only without an entry',
    request: { headers: [['content-type', 'application/json'], ['x-heddle-cache', 'only']], body: json({ model: 'chat', messages: user('never'), temperature: 0 }) },
    status: 404,
  },
  {
    name: 'two Authorization headers',
    request: { headers: [['content-type', 'application/json'], ['authorization', 'Bearer a'], ['Authorization', 'Bearer b']], body: json({ model: 'chat', messages: user('x') }) },
    status: 200,
  },
  { name: 'an upstream 400, relayed', request: { body: json({ model: 'relay', messages: user('x') }) }, status: 400 },
  // Every target rate-limited, no retries left: a 503 naming the 429, with Retry-After.
  { name: 'an upstream 429', request: { body: json({ model: 'limited', messages: user('x') }) }, status: 503 },
  { name: 'a stream that breaks after commit', request: { body: json({ model: 'broken', messages: user('a b c'), stream: true }) }, status: 200 },
  // Not on the fast path: the Hono app answers these on both sides.
  { name: 'a trailing slash (404)', request: { path: '/v1/chat/completions/', body: json({ model: 'chat', messages: user('x') }) }, status: 404 },
  { name: 'GET on the chat path (404)', request: { method: 'GET', headers: [] }, status: 404 },
  { name: 'the models list', request: { method: 'GET', path: '/v1/models', headers: [] }, status: 200 },
  { name: 'an Anthropic request with bad input', request: { path: '/v1/messages', body: json({ model: 'chat' }) }, status: 400 },
];

describe('the fast path answers as the Hono app does', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const a = await exchange(fast.gateway.port, c.request);
      const b = await exchange(hono.gateway.port, c.request);
      expect(a.status).toBe(c.status);
      expect(a).toEqual(b);
    });
  }

  it('writes the same audit lines', () => {
    const comparable = (r: AuditRecord) => ({ ...r, ts: undefined, request_id: undefined, duration_ms: undefined, ttfb_ms: undefined });
    expect(fast.audit.length).toBeGreaterThan(10);
    expect(fast.audit.map(comparable)).toEqual(hono.audit.map(comparable));
  });
});

describe('the Node server', () => {
  it('keeps idle connections for 65 s and says so, so that client pools reuse them', async () => {
    for (const side of [fast, hono]) {
      const res = await fetch(`${side.gateway.baseURL}/models`);
      await res.text();
      expect(res.headers.get('keep-alive')).toBe('timeout=65');
    }
  });
});

describe('the fast path with the openai SDK', () => {
  let client: OpenAI;
  beforeAll(() => {
    client = new OpenAI({ baseURL: fast.gateway.baseURL, apiKey: 'dummy-key', maxRetries: 0 });
  });

  it('answers chat, streams and embeddings', async () => {
    const answer = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'sdk hello' }] });
    expect(answer.choices[0]?.message.content).toBe('echo: sdk hello');
    const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'sdk stream' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('echo: sdk stream');
    const embedded = await client.embeddings.create({ model: 'chat', input: 'hello world' });
    expect(embedded.data[0]?.embedding).toEqual([11, 2, 1]);
  });

  it('answers many overlapping requests, each with its own answer (their sends held to the end of a turn)', async () => {
    // Overlapping requests are where src/node/turn.ts holds upstream calls and answers; errors and streams ride
    // along in the same turns.
    const asks = Array.from({ length: 48 }, (_, i) => `overlap ${i}`);
    const answers = await Promise.all([
      ...asks.map((content) => client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content }] })),
      client.chat.completions.create({ model: 'chat', messages: [] }).catch((e: unknown) => e),
      (async () => {
        const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'overlap stream' }], stream: true });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        return text;
      })(),
    ]);
    expect(answers.slice(0, asks.length).map((a) => (a as OpenAI.ChatCompletion).choices[0]?.message.content)).toEqual(asks.map((a) => `echo: ${a}`));
    expect(answers[asks.length]).toBeInstanceOf(OpenAI.BadRequestError);
    expect(answers[asks.length + 1]).toBe('echo: overlap stream');
  });

  it('gives the SDK its error classes, with the param named', async () => {
    const bad = await client.chat.completions.create({ model: 'chat', messages: [] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages');
    const missing = await client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    const big = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(5000) }] }).catch((e: unknown) => e);
    expect(big).toBeInstanceOf(OpenAI.APIError);
    expect((big as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect((big as InstanceType<typeof OpenAI.APIError>).code).toBe('request_too_large');
  });

  it('aborts the upstream call when the client leaves before the answer', async () => {
    const { upstream } = fast;
    const controller = new AbortController();
    const before = upstream.requests.length;
    const abortedBefore = upstream.abortedByClient;
    const pending = client.chat.completions.create({ model: 'hang', messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal });
    await expect.poll(() => upstream.requests.length).toBe(before + 1);
    controller.abort();
    await expect(pending).rejects.toThrow();
    await expect.poll(() => upstream.abortedByClient, { timeout: 5000 }).toBe(abortedBefore + 1);
    await expect.poll(() => fast.audit.at(-1)?.status).toBe(499);
  });

  it('aborts the upstream stream when the client leaves mid-stream', async () => {
    const { upstream } = fast;
    const controller = new AbortController();
    const abortedBefore = upstream.abortedByClient;
    const stream = await client.chat.completions.create({ model: 'stall', messages: [{ role: 'user', content: 'x' }], stream: true }, { signal: controller.signal });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    await iterator.next().catch(() => undefined);
    await expect.poll(() => upstream.abortedByClient, { timeout: 5000 }).toBe(abortedBefore + 1);
    await expect.poll(() => fast.audit.at(-1)?.status).toBe(499);
  });

  it('refuses a declared length over the limit at once, without waiting for a body it would not read', async () => {
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(fast.gateway.port, '127.0.0.1', () => {
        // The head alone: a gateway that waited for the 100,000 bytes would never answer.
        socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n');
      });
      let seen = '';
      socket.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        if (seen.includes('\r\n\r\n')) {
          socket.destroy();
          resolve(seen);
        }
      });
      socket.on('error', reject);
    });
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 413 Payload Too Large');
  });

  it('keeps serving after a client leaves halfway through sending its body', async () => {
    const { upstream } = fast;
    const before = upstream.requests.length;
    await new Promise<void>((resolve) => {
      const socket = connect(fast.gateway.port, '127.0.0.1', () => {
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":`);
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on('close', () => resolve());
    });
    const answer = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'still here' }] });
    expect(answer.choices[0]?.message.content).toBe('echo: still here');
    expect(upstream.requests.length).toBe(before + 1);
  });
});
