// What both cache benchmarks share: the production gateway as its own process, the client every request goes
// through (one undici Agent), and the evaluation run twice (200 temperature-0 requests, 8 in flight, as
// DeepFabric runs an evaluation), with the CPU each side spent.
import { writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { buildGateway, gatewayCommand } from '../../scripts/gateway.mjs';
import { flag } from '../lib/args.js';
import { freePort, spawnProc, treeCpuSeconds, waitForPort, type SpawnResult } from '../lib/procs.js';
import { round } from '../lib/stats.js';

// Other engineers' builds and benchmarks share this machine: as bench/overhead does, every process of a
// benchmark runs at nice -20 when root (--no-nice to turn off).
export const NICE = process.getuid?.() === 0 && !flag('no-nice') ? -20 : 0;
if (NICE !== 0) {
  try {
    setPriority(0, NICE);
  } catch {
    // Not allowed here: run at the default priority.
  }
}

const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });

export async function post(url: string, body: unknown): Promise<{ status: number; cache: string | undefined; text: string }> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), dispatcher: agent });
  const text = await res.body.text();
  const cache = res.headers['x-heddle-cache'];
  return { status: res.statusCode, cache: Array.isArray(cache) ? cache[0] : cache, text };
}

export const closeClient = (): Promise<void> => agent.close();

// Built once per run, under node_modules/.cache so the bundle's npm imports resolve.
let heddleBundle: Promise<string> | undefined;

/** Heddle as production runs it (scripts/gateway.mjs: the esbuild bundle on plain node with the gateway's V8 flags). */
export async function startHeddle(logDir: string, policy: string, env: Record<string, string> = {}): Promise<{ proc: SpawnResult; url: string }> {
  const policyFile = join(logDir, 'policy.yaml');
  writeFileSync(policyFile, policy);
  const port = await freePort();
  heddleBundle ??= buildGateway({ outfile: join('node_modules', '.cache', 'heddle-bench-cache', 'heddle-node.mjs') });
  const [cmd, args] = gatewayCommand(await heddleBundle);
  const proc = spawnProc({
    name: 'heddle',
    cmd,
    args,
    env: { HEDDLE_POLICY: policyFile, HEDDLE_PORT: String(port), HEDDLE_AUDIT: 'off', HEDDLE_WATCH: '0', ...env },
    logPath: join(logDir, 'heddle.log'),
    nice: NICE,
  });
  await waitForPort(port, proc);
  return { proc, url: `http://127.0.0.1:${port}` };
}

export interface EvalRun {
  ms: number;
  statuses: Record<string, number>;
  /** CPU seconds the Heddle process spent during the run. */
  heddleCpu: number;
  /** CPU seconds this process (the evaluation's client) spent during the run. */
  clientCpu: number;
}

/** One pass over the evaluation set: `item(i)` is the i-th request body; `inFlight` workers take the next item. */
export async function evaluation(url: string, heddlePid: number, item: (i: number) => unknown, samples = 200, inFlight = 8): Promise<EvalRun> {
  const statuses: Record<string, number> = {};
  let next = 0;
  const cpu0 = treeCpuSeconds(heddlePid);
  const client0 = process.cpuUsage();
  const t = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < samples) {
        const r = await post(`${url}/v1/chat/completions`, item(next++));
        if (r.status !== 200) throw new Error(`status ${r.status}: ${r.text.slice(0, 200)}`);
        statuses[r.cache ?? 'none'] = (statuses[r.cache ?? 'none'] ?? 0) + 1;
      }
    }),
  );
  const ms = performance.now() - t;
  const client = process.cpuUsage(client0);
  return { ms, statuses, heddleCpu: treeCpuSeconds(heddlePid) - cpu0, clientCpu: (client.user + client.system) / 1e6 };
}

/**
 * The re-run from the cache, REPLAYS times: one replay of 200 answers takes ~0.1 s, so a single one swings with whatever
 * else the shared machine does in that instant. Reported: the median replay, and every replay in order.
 */
export const REPLAYS = 5;
export async function replays(url: string, heddlePid: number, item: (i: number) => unknown, samples = 200, inFlight = 8): Promise<EvalRun & { all: EvalRun[] }> {
  const runs: EvalRun[] = [];
  for (let i = 0; i < REPLAYS; i++) runs.push(await evaluation(url, heddlePid, item, samples, inFlight));
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return { ...(sorted[REPLAYS >> 1] as EvalRun), all: runs };
}

export const fixed = (x: number, d = 3): string => round(x, d).toFixed(d);
export const replayLine = (r: EvalRun): string => `${fixed(r.ms / 1000)} / ${fixed(r.heddleCpu, 2)} / ${fixed(r.clientCpu)}`;
