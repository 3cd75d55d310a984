import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnOpenAiServer, type ServerProcess } from '../support/spawn-openai-server.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// A node that dies and is restarted on the same port gets its traffic back once its breaker's cooldown has
// passed and a health probe found it up again; meanwhile everything goes to the other target.

const COOLDOWN_S = 0.5;
const INTERVAL_S = 0.2;

let a: ServerProcess;
let b: ServerProcess;
let gateway: TestGateway;

beforeAll(async () => {
  [a, b] = await Promise.all([spawnOpenAiServer(), spawnOpenAiServer()]);
  gateway = await startTestGateway(`
version: 1
targets:
  a: { kind: openai-compatible, url: ${a.baseURL}, clearance: restricted }
  b: { kind: openai-compatible, url: ${b.baseURL}, clearance: restricted }
models:
  m: { a: echo, b: echo }
routes:
  - { name: m, match: { model: m }, targets: [a, b] }
resilience:
  breaker: { failures: 2, cooldown: ${COOLDOWN_S}s }
  health: { interval: ${INTERVAL_S}s, timeout: 500ms }
`);
});

afterAll(async () => {
  await gateway?.close();
  await a?.kill();
  await b?.kill();
});

async function servedBy(): Promise<string | null> {
  const res = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  return res.headers.get('x-heddle-target');
}

async function ready(): Promise<{ targets: string[]; unavailable: Record<string, string> }> {
  return (await (await fetch(`${gateway.url}/ready`)).json()) as { targets: string[]; unavailable: Record<string, string> };
}

describe('recovery after a restart', () => {
  it('moves traffic off a dead node and back when it returns', async () => {
    expect(await servedBy()).toBe('a');
    const port = a.port;
    await a.kill('SIGKILL');
    for (let i = 0; i < 5; i++) expect(await servedBy()).toBe('b');
    await expect.poll(async () => Object.keys((await ready()).unavailable)).toEqual(['a']);

    a = await spawnOpenAiServer({ PORT: port });
    const restarted = performance.now();
    let target: string | null = null;
    await expect
      .poll(async () => (target = await servedBy()), { timeout: 15_000, interval: 25 })
      .toBe('a');
    const seconds = (performance.now() - restarted) / 1000;
    console.log(`traffic back on the restarted node after ${seconds.toFixed(2)}s (cooldown ${COOLDOWN_S}s + probe interval ${INTERVAL_S}s)`);
    expect(target).toBe('a');
    expect((await ready()).targets).toEqual(['a', 'b']);
  });
});
