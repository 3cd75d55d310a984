import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/observability/audit.js';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// A target whose TCP handshake never completes: a socket that listens but never accepts, its accept queue filled,
// so Linux drops further SYNs. The target's own connect timeout (not the first-byte one) moves the request on.

let blackhole: ChildProcess;
const fillers: Socket[] = [];
let backup: FakeOpenAi;
let gateway: TestGateway;
const audit: AuditRecord[] = [];

beforeAll(async () => {
  // Python's listen(0) never accepts unless asked to (Node's net server always drains the kernel queue).
  blackhole = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(600)']);
  const port = await new Promise<number>((resolve) => blackhole.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  for (let i = 0; i < 4; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => undefined));
  await new Promise((r) => setTimeout(r, 200));
  backup = await startFakeOpenAi();
  gateway = await startTestGateway(
    `
version: 1
targets:
  stuck: { kind: openai-compatible, url: "http://127.0.0.1:${port}/v1", clearance: restricted }
  backup: { kind: openai-compatible, url: ${backup.baseURL}, clearance: restricted }
models:
  chat: { stuck: echo, backup: echo }
routes:
  - { name: main, match: { model: chat }, targets: [stuck, backup] }
resilience:
  health: { enabled: false }
  timeouts: { first_byte: 5s, connect: 60s }
  targets: { stuck: { timeouts: { connect: 300ms } } }
`,
    {},
    (record) => audit.push(record),
  );
});

afterAll(async () => {
  await gateway?.close();
  await backup?.close();
  for (const s of fillers) s.destroy();
  blackhole?.kill();
});

describe('connect timeout per target', () => {
  it('gives up on a target whose handshake hangs after its own connect timeout, then fails over', async () => {
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'are you there' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-heddle-target')).toBe('backup');
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content).toBe('echo: are you there');
    // The first attempt ended as unreachable (the connect timeout), not by the 5 s first-byte timeout.
    expect(audit.at(-1)?.attempts[0]).toMatchObject({ target: 'stuck', error: 'upstream_unreachable' });
  });
});
