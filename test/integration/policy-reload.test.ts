import OpenAI from 'openai';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../../src/node.js';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';

// Hot reload on the real Node gateway: the policy file is watched; a broken edit keeps the last good policy and
// logs why; a good edit takes effect for new requests while a request in flight finishes on the policy it began with.

let first: FakeOpenAi;
let second: FakeOpenAi;
let gateway: RunningGateway;
let client: OpenAI;
let policyFile: string;
const logs: { level: string; message: string; fields: Record<string, unknown> | undefined }[] = [];

const policy = (url: string, name: string) => `version: 1
targets:
  ${name}: { kind: openai-compatible, url: "${url}", clearance: restricted }
models:
  m: { ${name}: echo }
  slow: { ${name}: slow }
routes:
  - { name: r-${name}, match: { model: "*" }, targets: [${name}] }
`;

/** Saves the way editors do: write a temp file, rename it over the policy. */
function save(text: string): void {
  const tmp = `${policyFile}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, policyFile);
}

async function waitForLog(message: string, from: number): Promise<(typeof logs)[number]> {
  for (let i = 0; i < 200; i++) {
    const hit = logs.slice(from).find((l) => l.message === message);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no log '${message}'`);
}

beforeAll(async () => {
  first = await startFakeOpenAi({ slowMs: 1500 });
  second = await startFakeOpenAi();
  policyFile = join(mkdtempSync(join(tmpdir(), 'heddle-reload-')), 'policy.yaml');
  writeFileSync(policyFile, policy(first.baseURL, 'first'));
  gateway = await startGateway({
    policyFile,
    host: '127.0.0.1',
    port: 0,
    audit: 'off',
    env: {},
    watchPolicy: true,
    log: (level, message, fields) => logs.push({ level, message, fields }),
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'dummy', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await first?.close();
  await second?.close();
});

async function target(): Promise<string | null> {
  const { response } = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
  return response.headers.get('x-heddle-target');
}

describe('policy hot reload', () => {
  it('keeps serving with the last good policy after a broken edit, and logs where it is broken', async () => {
    expect(await target()).toBe('first');
    const mark = logs.length;
    save(`${policy(first.baseURL, 'first')}  - { match: { model: x }, targets: [ghost] }\n`);
    const rejected = await waitForLog('policy edit rejected; keeping the last good policy', mark);
    expect(rejected.level).toBe('warn');
    expect(rejected.fields?.problems).toEqual([`${policyFile}:9:38: routes.1.targets.0: unknown target 'ghost'`]);
    expect(await target()).toBe('first');
  });

  it('applies a good edit to new requests without dropping one in flight', async () => {
    const inFlight = client.chat.completions
      .create({ model: 'slow', messages: [{ role: 'user', content: 'still here' }] })
      .withResponse();
    await new Promise((r) => setTimeout(r, 200)); // the slow request has reached the first target
    const mark = logs.length;
    save(policy(second.baseURL, 'second'));
    await waitForLog('policy reloaded', mark);
    expect(await target()).toBe('second');
    const { data, response } = await inFlight;
    expect(data.choices[0]?.message.content).toBe('echo: still here');
    expect(response.headers.get('x-heddle-target')).toBe('first');
    expect(response.headers.get('x-heddle-route')).toBe('r-first');
  });
});
