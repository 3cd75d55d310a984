import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aborter } from '../../../src/abort.js';
import { undiciHttpSend } from '../../../src/node.js';
import { fetchHttpSend, type HttpSend } from '../../../src/providers/http.js';
import type { Target } from '../../../src/providers/types.js';
import { compileResilience, resilienceSchema } from '../../../src/resilience/config.js';
import { probeUrl } from '../../../src/resilience/health.js';
import { Resilience } from '../../../src/resilience/index.js';

// Active probes against a loopback server playing a FastLLM node: /health answers 503 while "loading", and
// GET /v1/load reports the scheduler's queue.

let server: Server;
let url = '';
let loading = true;
let load = { running: 2, waiting: 1, queue_capacity: 8, kv_used: 100, kv_capacity: 1000 };

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url?.startsWith('/hang/')) return; // a node that accepts and never answers
    if (req.url === '/health') {
      res.writeHead(loading ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: loading ? 'loading' : 'ok' }));
    } else if (req.url === '/v1/load') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(load));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(
  () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
);

const target = (name: string, kind: Target['kind'], u: string): Target => ({ name, kind, url: u, apiKey: undefined, headers: {} });

describe('health probes', () => {
  it('probe each kind where it says it is ready; cloud targets are watched passively only', () => {
    expect(probeUrl(target('n', 'fastllm', 'http://h:8000'))).toBe('http://h:8000/health');
    expect(probeUrl(target('o', 'ollama', 'http://h:11434'))).toBe('http://h:11434/api/tags');
    expect(probeUrl(target('c', 'openai-compatible', 'http://h/v1'))).toBe('http://h/v1/models');
    expect(probeUrl(target('x', 'openai', 'https://api.openai.com/v1'))).toBeUndefined();
    expect(probeUrl(target('a', 'anthropic', 'https://api.anthropic.com'))).toBeUndefined();
  });

  it('keep a FastLLM node out while it loads, read its load, and refuse it when its queue is full', async () => {
    const cfg = compileResilience(resilienceSchema.parse({}));
    const r = new Resilience({ http: fetchHttpSend(fetch), now: () => performance.now() });
    const node = target('node', 'fastllm', url);
    const dead = target('dead', 'fastllm', 'http://127.0.0.1:9');
    const source = { targets: () => [node, dead], config: () => cfg.health };

    await r.health.probeAll(source);
    expect(r.health.status('node')).toBe('down');
    expect(r.refusal(node, cfg)?.reason).toContain('answered 503');
    expect(r.health.status('dead')).toBe('down');
    expect(r.stats.reportedLoad('node')).toBe(3);

    loading = false;
    await r.health.probeAll(source);
    expect(r.health.status('node')).toBe('up');
    expect(r.refusal(node, cfg)).toBeUndefined();

    load = { running: 8, waiting: 8, queue_capacity: 8, kv_used: 1000, kv_capacity: 1000 };
    await r.health.probeAll(source);
    expect(r.refusal(node, cfg)?.reason).toBe('saturated (node queue full)');
    expect(r.describe('node', cfg)).toMatchObject({ saturated: true, health: { status: 'up' }, breaker: { state: 'closed' } });
  });

  it('give up on a node that never answers at the probe timeout, with signals of the request path\'s kind', async () => {
    const cfg = compileResilience(resilienceSchema.parse({ health: { timeout: '200ms' } }));
    // Probes share the upstream client with requests; a signal of another kind there makes V8 deoptimize the
    // client's hot functions at every probe (bench/results/tail-1000rps.md), so probes use Aborters as requests do.
    const signals: unknown[] = [];
    const send = undiciHttpSend();
    const recording: HttpSend = (req) => {
      signals.push(req.signal);
      return send(req);
    };
    const r = new Resilience({ http: recording, now: () => performance.now() });
    const hung = target('hung', 'fastllm', `${url}/hang`);
    const node = target('node', 'fastllm', url);
    // A timeout is soft (a node busy generating may be slow to answer): three in a row mark it down.
    for (let i = 0; i < 3; i++) await r.health.probeAll({ targets: () => [hung, node], config: () => cfg.health });
    expect(r.refusal(hung, cfg)?.reason).toBe(`health probe failed: no answer from ${url}/hang/health within 0.2s`);
    expect(r.health.status('node')).toBe(loading ? 'down' : 'up');
    expect(signals.length).toBeGreaterThanOrEqual(9); // per round two /health, at least one /v1/load
    for (const signal of signals) expect(signal).toBeInstanceOf(Aborter);
  });

  it('refuse a target with as many requests in flight as its max_concurrent', () => {
    const cfg = compileResilience(resilienceSchema.parse({}));
    const r = new Resilience({ http: fetchHttpSend(fetch), now: () => 0 });
    const t = { ...target('t', 'openai', 'https://example.invalid'), maxConcurrent: 1 };
    const first = r.admit(t, cfg);
    expect(first.ok).toBe(true);
    expect(r.admit(t, cfg)).toMatchObject({ ok: false, reason: 'saturated (1 requests in flight)' });
    if (first.ok) r.succeeded(first.ticket, cfg);
    expect(r.admit(t, cfg).ok).toBe(true);
  });
});
