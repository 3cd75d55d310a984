// Failover benchmark (not a test): a steady open-loop load of mixed streaming and non-streaming requests through
// the Node gateway to two upstream processes; the primary is killed with SIGKILL mid-run and restarted later on
// the same port. Reports client-visible failures, p99 latency in steady state versus the failover window, and
// how long after the restart traffic returns to the primary. Writes bench/results/failover.md.
//
//   npx tsx bench/failover/run.ts [--rate 60] [--steady 6] [--down 6] [--after 8] [--out bench/results/failover.md]
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, countArg } from '../lib/args.js';
import { freePort, spawnProc, stopAll, waitForPort, type SpawnResult } from '../lib/procs.js';
import { percentile, round, sortedCopy } from '../lib/stats.js';

const RATE = countArg('rate', 60);
const STEADY_S = countArg('steady', 6);
const DOWN_S = countArg('down', 6);
const AFTER_S = countArg('after', 8);
const OUT = arg('out', 'bench/results/failover.md');
const FAILOVER_WINDOW_S = 2;
const DRIP_MS = 5;
const COOLDOWN_S = 2;
const INTERVAL_S = 1;
const PROMPT = 'one two three four five six seven eight';
const EXPECTED = `echo: ${PROMPT}`;

const logDir = mkdtempSync(join(tmpdir(), 'heddle-failover-'));
const node = process.execPath;

function upstream(name: string, port: number): SpawnResult {
  return spawnProc({
    name,
    cmd: node,
    args: ['--import', 'tsx', 'test/support/openai-server-process.ts'],
    env: { PORT: String(port), DRIP_MS: String(DRIP_MS) },
    logPath: join(logDir, `${name}.log`),
  });
}

interface Sample {
  start: number;
  end: number;
  stream: boolean;
  outcome: 'ok' | 'error' | 'stream-error-after-commit';
  target: string | null;
  detail?: string;
}

async function one(base: string, stream: boolean, t0: number): Promise<Sample> {
  const start = performance.now() - t0;
  const done = (outcome: Sample['outcome'], target: string | null, detail?: string): Sample => ({
    start,
    end: performance.now() - t0,
    stream,
    outcome,
    target,
    ...(detail !== undefined ? { detail } : {}),
  });
  try {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mix', messages: [{ role: 'user', content: PROMPT }], stream }),
    });
    const target = res.headers.get('x-heddle-target');
    const text = await res.text();
    if (res.status !== 200) return done('error', target, `${res.status} ${text.slice(0, 200)}`);
    if (!stream) {
      const content = (JSON.parse(text) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content;
      return done(content === EXPECTED ? 'ok' : 'error', target, content);
    }
    const events = text.split('\n\n').filter((e) => e.trim() !== '');
    const content = events
      .filter((e) => e.startsWith('data: {'))
      .map((e) => (JSON.parse(e.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '')
      .join('');
    const clean = events.at(-1) === 'data: [DONE]' && content === EXPECTED;
    if (clean) return done('ok', target);
    if (events.some((e) => e.startsWith('event: error')) && content !== '') return done('stream-error-after-commit', target);
    return done('error', target, text.slice(-200));
  } catch (err) {
    return done('error', null, err instanceof Error ? err.message : String(err));
  }
}

async function main(): Promise<void> {
  const [portA, portB, portG] = await Promise.all([freePort(), freePort(), freePort()]);
  let a = upstream('a', portA);
  const b = upstream('b', portB);
  await Promise.all([waitForPort(portA, a), waitForPort(portB, b)]);
  const policyFile = join(logDir, 'policy.yaml');
  writeFileSync(
    policyFile,
    `version: 1
targets:
  a: { kind: openai-compatible, url: http://127.0.0.1:${portA}/v1, clearance: restricted }
  b: { kind: openai-compatible, url: http://127.0.0.1:${portB}/v1, clearance: restricted }
models:
  mix: { a: drip, b: drip }
routes:
  - { name: mix, match: { model: mix }, strategy: fallback, targets: [a, b] }
resilience:
  retries: 2
  timeouts: { first_byte: 5s, idle: 2s, total: 30s }
  breaker: { failures: 3, cooldown: ${COOLDOWN_S}s }
  health: { interval: ${INTERVAL_S}s, timeout: 500ms }
`,
  );
  const gw = spawnProc({
    name: 'gateway',
    cmd: node,
    args: ['--import', 'tsx', 'src/node.ts'],
    env: { HEDDLE_POLICY: policyFile, HEDDLE_PORT: String(portG), HEDDLE_AUDIT: 'off', HEDDLE_WATCH: '0' },
    logPath: join(logDir, 'gateway.log'),
  });
  await waitForPort(portG, gw);
  const base = `http://127.0.0.1:${portG}`;
  // Warm up connections and JIT.
  await Promise.all(Array.from({ length: 50 }, (_, i) => one(base, i % 2 === 0, performance.now())));

  const t0 = performance.now();
  const totalS = STEADY_S + DOWN_S + AFTER_S;
  const pending: Promise<Sample>[] = [];
  let killAt = Number.NaN;
  let restartedAt = Number.NaN;
  const events = (async () => {
    await sleep(STEADY_S * 1000);
    killAt = performance.now() - t0;
    a.child.kill('SIGKILL');
    await a.exited;
    await sleep(DOWN_S * 1000);
    a = upstream('a', portA);
    await waitForPort(portA, a);
    restartedAt = performance.now() - t0;
  })();
  for (let i = 0; ; i++) {
    const due = (i / RATE) * 1000;
    if (due >= totalS * 1000) break;
    const wait = due - (performance.now() - t0);
    if (wait > 0) await sleep(wait);
    pending.push(one(base, i % 2 === 0, t0));
  }
  await events;
  const samples = await Promise.all(pending);
  await stopAll();

  const lat = (xs: Sample[]) => sortedCopy(xs.filter((s) => s.outcome === 'ok').map((s) => s.end - s.start));
  const steady = lat(samples.filter((s) => s.start >= 1000 && s.start < killAt));
  const window = lat(samples.filter((s) => s.start >= killAt - 100 && s.start < killAt + FAILOVER_WINDOW_S * 1000));
  const errors = samples.filter((s) => s.outcome === 'error');
  const broken = samples.filter((s) => s.outcome === 'stream-error-after-commit');
  const back = samples.filter((s) => s.start >= restartedAt && s.target === 'a').sort((x, y) => x.start - y.start)[0];
  const returnS = back === undefined ? Number.NaN : (back.start - restartedAt) / 1000;
  const duringOutageOnA = samples.filter((s) => s.start > killAt + 500 && s.start < restartedAt && s.target === 'a').length;

  const rows = [
    ['requests', String(samples.length)],
    ['client errors (non-200, or a stream ending without [DONE] and without an error event)', String(errors.length)],
    ['committed streams cut by the kill (ended with an SSE error event, as documented)', String(broken.length)],
    ['p50 / p99 latency, steady state (ms)', `${round(percentile(steady, 50), 1)} / ${round(percentile(steady, 99), 1)}`],
    [`p50 / p99 latency, ${FAILOVER_WINDOW_S}s after the kill (ms)`, `${round(percentile(window, 50), 1)} / ${round(percentile(window, 99), 1)}`],
    ['p99 failover window / steady', `${round(percentile(window, 99) / percentile(steady, 99), 2)}x`],
    ['traffic back on the restarted node after (s)', `${round(returnS, 2)} (cooldown ${COOLDOWN_S}s + probe interval ${INTERVAL_S}s = ${COOLDOWN_S + INTERVAL_S}s bound)`],
    ['requests served by the killed node while it was down (after 0.5 s)', String(duringOutageOnA)],
  ];
  const md = `# Failover benchmark

\`npx tsx bench/failover/run.ts --rate ${RATE} --steady ${STEADY_S} --down ${DOWN_S} --after ${AFTER_S}\`, ${new Date().toISOString().slice(0, 10)},
${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; machine shared with other work.

Open-loop load of ${RATE} requests/s (half streaming, half not) through the Node gateway (its own process) to two
upstream processes (test/support/openai-server-process.ts, answers streamed one word every ${DRIP_MS} ms), route
\`fallback: [a, b]\`, so in steady state \`a\` serves everything. At ${STEADY_S}s \`a\` is killed with SIGKILL; ${DOWN_S}s
later it is restarted on the same port. Breaker: 3 failures, cooldown ${COOLDOWN_S}s; health probes every ${INTERVAL_S}s.

| measure | value |
|---|---|
${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}

Streams already committed on \`a\` when it died cannot move (their first tokens were sent); they end with
\`event: error\` and no \`[DONE]\`. Everything else that was in flight on \`a\`, streamed or not, was retried on \`b\`.
`;
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(OUT, md);
  process.stdout.write(md);
  for (const e of errors.slice(0, 5)) process.stdout.write(`error: ${JSON.stringify(e)}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

main().catch(async (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
