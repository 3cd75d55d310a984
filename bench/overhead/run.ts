// npm run bench:overhead [-- --duration=10 --rounds=1 --rates=200,1000 --only=direct,minimal,minimal-commit,heddle,heddle-default,heddle-tsx,portkey
//                            --connections=64 --rate-warmup=6 --ttfb-requests=300 --ttfb-warmup=2000 --chunk-gap=2 (ms between SSE events) --profile
//                            --fresh-portkey --no-write
//                            --before=<git ref> (adds Heddle's src/ at that commit, built and run like heddle, for a before/after in one run)
//                            --wait-quiet=<max CPU cores other processes may use before each contender> --wait-max=900
//                            --interleave=10 (cycles of the paired-in-time phase; 0 = none) --slice=4 (seconds per slice)]
//
// The same chat request sent (a) directly to a fixed-answer upstream, (b) through Heddle, (c) through a
// minimal node:http + undici pass-through proxy (the ceiling of any Node proxy here), (d) through
// Portkey's open-source gateway; at fixed open-loop rates, unthrottled (wrk), and streamed (TTFB).
// Every process runs on its own: upstream (unpinned), contender (CPU 0), load generator (CPU 1).
// Results: bench/results/overhead.json and overhead.md.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { buildGateway, gatewayCommand, gatewayNodeFlags } from '../../scripts/gateway.mjs';
import {
  backgroundCores,
  freePort,
  hasTaskset,
  rssBytes,
  sampleRss,
  setAffinity,
  spawnProc,
  stopAll,
  stopProc,
  treeCpuSeconds,
  treeRssBytes,
  waitForPort,
  waitQuiet,
  type Proc,
} from '../lib/procs.js';
import { arg, countArg, flag } from '../lib/args.js';
import { median } from '../lib/stats.js';
import { runWrk, wrkAvailable, type WrkResult } from '../lib/wrk.js';
import { chatBody } from './answers.js';
import { measureBundle } from './bundle.js';
import { interleave, type InterleavedResult } from './interleaved.js';
import { ensurePortkey, PORTKEY_HONO_NODE_SERVER, PORTKEY_VERSION } from './portkey.js';
import { summarizeProfile } from './profile.js';
import { ADDED_FLOOR_MS, renderReport, type ContenderResult, type OverheadResults, type RateResult, type TtfbResult } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

// ---------------------------------------------------------------- options
const durationS = Number(arg('duration', '10'));
const rounds = countArg('rounds', 1);
const rates = arg('rates', '200,1000').split(',').filter(Boolean).map(Number);
const chunkGapMs = Number(arg('chunk-gap', '2'));
const before = arg('before', '');
const only = arg('only', `direct,minimal,heddle,heddle-default,${before ? 'heddle-before,' : ''}portkey`).split(',');
const connections = countArg('connections', 64);
const ttfbRequests = countArg('ttfb-requests', 300);
// Streamed requests before the measured ones, ttfbWarmupConcurrency at a time, so that these see each contender's
// streaming path in a steady state (optimized by V8), not its first few dozen streams.
const ttfbWarmup = Number(arg('ttfb-warmup', '2000'));
const ttfbWarmupConcurrency = 4;
// Seconds of each fixed rate before it is measured. The load generator's requests differ from wrk's warm-up ones
// (headers, connection pattern), so a big gateway re-tiers code in the JIT when they start; pinned to one core, the
// compiler threads take that core from the event loop (10–66 ms stalls seen in Heddle 2 s in, none after 6 s).
const rateWarmupS = Number(arg('rate-warmup', '6'));
// The paired-in-time phase (interleaved.ts): cycles, and seconds per contender per cycle. The max-RPS targets take
// the median of the per-cycle ratios, the latency targets the ratios of all cycles' requests pooled; at 1000 RPS one
// cycle's p99 ratio ranges 0.3x to 50x on this machine (a few multi-ms stalls per slice decide it:
// bench/results/tail-1000rps.md), so 10 cycles rather than 6 (~3 minutes more), 40,000 requests pooled.
const interleaveCycles = Number(arg('interleave', '10'));
const sliceS = Number(arg('slice', '4'));
// Seconds at the rate before each open-loop slice is measured: the load generator is a new process every slice.
const SLICE_RATE_WARMUP_S = 2;
// The contenders whose ratios the targets compare, and direct, the latency baseline.
const PAIRED: ReadonlySet<string> = new Set(['direct', 'minimal', 'heddle', 'heddle-default', 'heddle-before']);
const profile = flag('profile');
const write = !flag('no-write');
const outDir = path.resolve(root, arg('out', 'bench/results'));
const quietLoad = Number(arg('wait-quiet', '0')); // max background CPU cores before each contender; 0 = do not wait
const quietMaxS = Number(arg('wait-max', '900'));
// Other engineers' builds share this machine: every bench process runs at nice -20 (when root) so that
// it gets the CPU whenever it wants it, and the builds get what is left.
const NICE = process.getuid?.() === 0 && !flag('no-nice') ? -20 : 0;
const PROXY_CPU = '0';
const LOADGEN_CPU = '1';
const ALL_CPUS = `0-${os.cpus().length - 1}`;
/**
 * Where the upstream runs in each phase. At fixed rates and for TTFB it shares the load generator's core, so that
 * nothing but the contender runs on CPU 0 and the latency added is the contender's own (unpinned, the scheduler put
 * it on CPU 0 at times, and a contender's requests waited behind it); measured directly, it is the contender and
 * takes CPU 0. Unthrottled it may use either core: CPU 1 alone could not feed the fastest contender and run wrk.
 */
function placeUpstream(upstream: Proc, phase: 'rate' | 'ttfb' | 'unthrottled', c: Contender): void {
  setAffinity(upstream.pid, phase === 'unthrottled' ? ALL_CPUS : c.name === 'direct' ? PROXY_CPU : LOADGEN_CPU);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'heddle-bench-overhead-'));
const log = (s: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
};

interface Contender {
  name: 'direct' | 'minimal' | 'minimal-commit' | 'heddle' | 'heddle-default' | 'heddle-tsx' | 'heddle-before' | 'portkey';
  label: string;
  port: number;
  model: string;
  headers: Record<string, string>;
  start: (() => Proc | Promise<Proc>) | undefined;
}

// ---------------------------------------------------------------- helpers
function machineInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  let wrkVersion = 'absent';
  try {
    wrkVersion = execFileSync('wrk', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
  } catch (err) {
    wrkVersion = String((err as { stdout?: string }).stdout ?? '').split('\n')[0] ?? 'absent';
  }
  let commit = 'unknown';
  let dirtySrc = false;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    dirtySrc = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
  } catch {
    /* not a git checkout */
  }
  return {
    gitCommit: commit,
    srcUncommittedChanges: dirtySrc,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    wrk: wrkVersion,
    taskset: hasTaskset(),
    pinning: hasTaskset()
      ? `contender on CPU ${PROXY_CPU}, load generator on CPU ${LOADGEN_CPU}, upstream on CPU ${LOADGEN_CPU} at fixed rates and for TTFB (on CPU ${PROXY_CPU} when measured directly), on either core unthrottled`
      : 'none (taskset absent)',
  };
}

async function sanity(c: Contender, base: string, stream: boolean): Promise<string | undefined> {
  try {
    if (!stream) {
      const r = await request(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...c.headers },
        body: chatBody(c.model, false),
      });
      const text = await r.body.text();
      if (r.statusCode !== 200 || !text.includes('fixed answer')) return `non-stream: ${r.statusCode} ${text.slice(0, 300)}`;
      return undefined;
    }
    const s = await request(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...c.headers },
      body: chatBody(c.model, true),
    });
    const st = await s.body.text();
    if (s.statusCode !== 200 || !st.includes('[DONE]') || !st.includes('fixed stream'))
      return `stream: ${s.statusCode} ${st.slice(0, 300)}`;
    return undefined;
  } catch (err) {
    return String(err);
  }
}

async function loadgen(cfg: Record<string, unknown>, name: string): Promise<Record<string, unknown>> {
  const p = spawnProc({
    name: `loadgen-${name}`,
    cmd: process.execPath,
    args: ['--import', 'tsx', path.join(here, 'loadgen.ts'), JSON.stringify(cfg)],
    cwd: root,
    cpus: LOADGEN_CPU,
    nice: NICE,
    logPath: path.join(work, `loadgen-${name}.log`),
    captureStdout: true,
  });
  const code = await p.exited;
  const line = p.stdout().trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`loadgen ${name} failed (exit ${code}); see ${p.logPath}`);
  return JSON.parse(line) as Record<string, unknown>;
}

/** A contender's chat endpoint, the one URL every phase loads. */
const chatUrl = (c: Contender): string => `http://127.0.0.1:${c.port}/v1/chat/completions`;

/** Closed-loop load on a contender (wrk, from the load generator's core). */
function wrkOn(c: Contender, durationS: number, name: string): Promise<WrkResult> {
  return runWrk({ url: chatUrl(c), body: chatBody(c.model, false), headers: c.headers, connections, threads: 1, durationS, cpus: LOADGEN_CPU, nice: NICE, workDir: work, name });
}

/** Open-loop load on a contender at a fixed rate, measured after `warmupS` at that rate (with every latency if asked). */
async function atRateOn(c: Contender, rate: number, durationS: number, warmupS: number, name: string, latencies = false): Promise<RateResult> {
  const r = await loadgen({ mode: 'rate', url: chatUrl(c), headers: c.headers, body: chatBody(c.model, false), connections: 256, rate, durationS, warmupS, latencies }, name);
  return r as unknown as RateResult;
}

// ---------------------------------------------------------------- one contender, one round
async function measure(c: Contender, upstream: Proc, round: number): Promise<ContenderResult> {
  const base = `http://127.0.0.1:${c.port}`;
  const url = chatUrl(c);
  const tag = `${c.name}-r${round}`;
  let background: number;
  if (quietLoad > 0) {
    const q = await waitQuiet(quietLoad, quietMaxS, log);
    if (!q.quiet) log(`still busy after ${quietMaxS} s (${q.cores.toFixed(2)} cores); measuring anyway`);
    background = q.cores;
  } else background = await backgroundCores(1000);
  const res: ContenderResult = {
    name: c.name,
    label: c.label,
    loadavgBefore: os.loadavg().map((x) => Math.round(x * 100) / 100),
    backgroundCores: Math.round(background * 100) / 100,
  };
  let proc: Proc | undefined;
  try {
    if (c.start) {
      proc = await c.start();
      await waitForPort(c.port, proc, 120_000);
      res.pid = proc.pid;
    }
    const bad = await sanity(c, base, false);
    if (bad) throw new Error(`sanity check failed: ${bad}`);
    const badStream = await sanity(c, base, true);
    if (badStream) res.streamError = badStream;
    if (proc) res.rssIdleMB = treeRssBytes(proc.pid) / 2 ** 20;
    const rssPid = proc?.pid ?? upstream.pid;

    // Warm the JIT and connection pools.
    log(`${tag}: warmup`);
    placeUpstream(upstream, 'unthrottled', c);
    await wrkOn(c, 3, `${tag}-warm`);

    // Fixed open-loop rates.
    placeUpstream(upstream, 'rate', c);
    res.rates = [];
    for (const rate of rates) {
      log(`${tag}: ${rate} RPS for ${durationS}s`);
      res.rates.push(await atRateOn(c, rate, durationS, rateWarmupS, `${tag}-${rate}`));
    }

    // Unthrottled (closed loop, wrk), with RSS and CPU sampling.
    log(`${tag}: unthrottled, ${connections} connections, ${durationS}s`);
    placeUpstream(upstream, 'unthrottled', c);
    const cpu0 = proc ? treeCpuSeconds(proc.pid) : 0;
    const up0 = treeCpuSeconds(upstream.pid);
    const sampler = sampleRss(rssPid, 100);
    const w = await wrkOn(c, durationS, `${tag}-max`);
    const rss = sampler.stop();
    res.unthrottled = {
      ...w,
      rssPeakMB: proc ? rss.peak / 2 ** 20 : undefined,
      contenderCpuS: proc ? treeCpuSeconds(proc.pid) - cpu0 : undefined,
      upstreamCpuS: treeCpuSeconds(upstream.pid) - up0,
    };
    if (proc && res.unthrottled.contenderCpuS !== undefined)
      res.unthrottled.contenderCpuUsPerReq = (res.unthrottled.contenderCpuS / w.requests) * 1e6;

    // Streaming time to first byte, one request at a time.
    if (res.streamError) {
      log(`${tag}: streaming broken, skipping TTFB: ${res.streamError}`);
      return res;
    }
    log(`${tag}: streaming TTFB x${ttfbRequests}`);
    placeUpstream(upstream, 'ttfb', c);
    const t = await loadgen({ mode: 'ttfb', url, headers: c.headers, body: chatBody(c.model, true), connections: 4, requests: ttfbRequests, warmup: ttfbWarmup, warmupConcurrency: ttfbWarmupConcurrency, concurrency: 1 }, `${tag}-ttfb`);
    res.ttfb = t as unknown as TtfbResult;
    if (proc) res.rssAfterMB = rssBytes(proc.pid) / 2 ** 20;
  } catch (err) {
    res.error = err instanceof Error ? err.message : String(err);
    log(`${tag}: FAILED ${res.error}`);
  } finally {
    if (proc) await stopProc(proc, profile ? 10_000 : 2000);
    res.loadavgAfter = os.loadavg().map((x) => Math.round(x * 100) / 100);
  }
  return res;
}

// ---------------------------------------------------------------- the contenders at once, in turns
/** Starts the paired contenders together (each pinned where it runs alone), warms each, and runs the slices. */
async function runInterleaved(paired: Contender[], upstream: Proc, rate: number): Promise<InterleavedResult | undefined> {
  const procs = new Map<string, Proc>();
  try {
    for (const c of paired) {
      if (!c.start) continue;
      const p = await c.start();
      await waitForPort(c.port, p, 120_000);
      procs.set(c.name, p);
    }
    for (const c of paired) {
      log(`interleaved: warming ${c.name}`);
      placeUpstream(upstream, 'unthrottled', c);
      await wrkOn(c, 3, `${c.name}-iwarm`);
      placeUpstream(upstream, 'rate', c);
      await atRateOn(c, rate, 1, rateWarmupS, `${c.name}-iwarm`);
    }
    return await interleave(paired, { cycles: interleaveCycles, sliceS, rate, rateWarmupS: SLICE_RATE_WARMUP_S, floorMs: ADDED_FLOOR_MS, log }, {
      unthrottled: async (c) => {
        placeUpstream(upstream, 'unthrottled', c);
        const p = procs.get(c.name);
        const cpu0 = p ? treeCpuSeconds(p.pid) : 0;
        const w = await wrkOn(c, sliceS, `${c.name}-slice`);
        return { rps: w.rps, cpuUsPerReq: p ? ((treeCpuSeconds(p.pid) - cpu0) / w.requests) * 1e6 : undefined };
      },
      atRate: async (c) => {
        placeUpstream(upstream, 'rate', c);
        const r = await atRateOn(c, rate, sliceS, SLICE_RATE_WARMUP_S, `${c.name}-slice`, true);
        return { p50: r.latencyMs.p50, p99: r.latencyMs.p99, latenciesMs: Float64Array.from(r.latenciesMs ?? []) };
      },
    });
  } catch (err) {
    log(`interleaved phase FAILED: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  } finally {
    for (const p of procs.values()) await stopProc(p);
  }
}

// Median of each numeric leaf across rounds (same shape as one round); errors kept from the first failure.
function mergeRounds(xs: ContenderResult[]): ContenderResult {
  const ok = xs.filter((x) => !x.error);
  if (ok.length === 0) return xs[0] as ContenderResult;
  const mergeObj = (objs: unknown[]): unknown => {
    const first = objs[0];
    if (typeof first === 'number') return median(objs as number[]);
    if (Array.isArray(first)) return first.map((_, i) => mergeObj(objs.map((o) => (o as unknown[])[i])));
    if (first && typeof first === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(first)) out[k] = mergeObj(objs.map((o) => (o as Record<string, unknown>)[k]));
      return out;
    }
    return first;
  };
  const merged = mergeObj(ok) as ContenderResult;
  merged.rounds = ok.length;
  merged.perRoundMaxRps = ok.map((x) => Math.round(x.unthrottled?.rps ?? Number.NaN));
  merged.loadavgBefore = ok[0]?.loadavgBefore;
  merged.loadavgAfter = ok[ok.length - 1]?.loadavgAfter;
  merged.backgroundCoresPerRound = ok.map((x) => x.backgroundCores ?? Number.NaN);
  return merged;
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  if (!wrkAvailable()) throw new Error('wrk not found: apt-get install -y wrk');
  log(`work dir ${work}; uptime: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const startedAt = new Date().toISOString();
  const upstreamPort = await freePort();
  const upstream = spawnProc({
    name: 'upstream',
    cmd: process.execPath,
    args: ['--import', 'tsx', path.join(here, 'upstream.ts')],
    cwd: root,
    env: { PORT: String(upstreamPort), CHUNK_GAP_MS: String(chunkGapMs) },
    nice: NICE,
    logPath: path.join(work, 'upstream.log'),
  });
  await waitForPort(upstreamPort, upstream);
  const upstreamV1 = `http://127.0.0.1:${upstreamPort}/v1`;
  const auth = { authorization: 'Bearer bench-key' };

  const contenders: Contender[] = [];
  contenders.push({ name: 'direct', label: 'direct (no proxy)', port: upstreamPort, model: 'fixed-model', headers: auth, start: undefined });

  // Heddle runs as `npm run gateway` / `npm start` run it in production (scripts/gateway.mjs): src/node.ts bundled by
  // esbuild, on plain node with the gateway's V8 flags. The minimal proxy, the ceiling, is bundled and run the same
  // way (same flags), so the ratio between them is the code's, not the tooling's. Bundles go under
  // node_modules/.cache so their npm imports resolve.
  const bundles = path.join(root, 'node_modules', '.cache', 'heddle-bench-overhead');
  const profDir = path.join(work, 'cpu-prof');
  const heddleBundle = path.join(bundles, 'heddle-node.mjs');
  /** Bundles `entry` (once per output file) and runs it as production runs the gateway; pinned and niced. */
  const bundled = async (name: string, entry: string, out: string, env: Record<string, string>, profiled = false): Promise<Proc> => {
    if (!existsSync(out)) await buildGateway({ entry, outfile: out });
    const [cmd, args] = gatewayCommand(out);
    const prof = profiled && profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    return spawnProc({ name, cmd, args: [...prof, ...args], cwd: root, env, cpus: PROXY_CPU, nice: NICE, logPath: path.join(work, `${name}.log`) });
  };
  rmSync(bundles, { recursive: true, force: true });

  const minimalPort = await freePort();
  contenders.push({
    name: 'minimal',
    label: 'minimal proxy (node:http + undici Pool)',
    port: minimalPort,
    model: 'fixed-model',
    headers: auth,
    start: () =>
      bundled('minimal', path.join(here, 'minimal-proxy.ts'), path.join(bundles, 'minimal-proxy.mjs'), { PORT: String(minimalPort), UPSTREAM_URL: upstreamV1 }),
  });

  // The same proxy committing streams where Heddle does (DESIGN.md): at the first content, head and all in one write.
  // Not in the default set: it separates what that commit point costs from what Heddle's own code costs.
  const committingPort = await freePort();
  contenders.push({
    name: 'minimal-commit',
    label: 'minimal proxy, committing streams at first content',
    port: committingPort,
    model: 'fixed-model',
    headers: auth,
    start: () =>
      bundled('minimal-commit', path.join(here, 'minimal-proxy.ts'), path.join(bundles, 'minimal-proxy.mjs'), {
        PORT: String(committingPort),
        UPSTREAM_URL: upstreamV1,
        COMMIT_AT_CONTENT: '1',
      }),
  });

  const heddleEntry = path.join(root, 'src', 'node.ts');
  const heddleEnv = (port: number, policy = path.join(here, 'policy.yaml')): Record<string, string> => ({
    HEDDLE_POLICY: policy,
    HEDDLE_PORT: String(port),
    HEDDLE_HOST: '127.0.0.1',
    BENCH_UPSTREAM_PORT: String(upstreamPort),
    NODE_ENV: 'production',
  });
  const heddlePort = await freePort();
  contenders.push({
    name: 'heddle',
    label: `Heddle (npm run gateway: esbuild bundle on node ${gatewayNodeFlags.join(' ')})`,
    port: heddlePort,
    model: 'bench-model',
    headers: auth,
    start: () => bundled('heddle', heddleEntry, heddleBundle, heddleEnv(heddlePort), true),
  });

  // policies/default.yaml as users get it: every privacy detector, the cache in deterministic mode (a sampled
  // request is a bypass), the two-target fallback route (local node, then Ollama; both the bench upstream here,
  // which answers their health probes), audit lines to stdout, metrics.
  const defaultPort = await freePort();
  const upstreamRoot = `http://127.0.0.1:${upstreamPort}`;
  contenders.push({
    name: 'heddle-default',
    label: 'Heddle, policies/default.yaml (same build)',
    port: defaultPort,
    model: 'heddle-demo',
    headers: auth,
    start: () =>
      bundled('heddle-default', heddleEntry, heddleBundle, {
        ...heddleEnv(defaultPort, path.join(root, 'policies', 'default.yaml')),
        HEDDLE_NODE_URL: upstreamRoot,
        OLLAMA_URL: upstreamRoot,
      }),
  });

  // Development mode (`npm run gateway:dev`), for reference: tsx's loader thread costs RSS.
  const tsxPort = await freePort();
  contenders.push({
    name: 'heddle-tsx',
    label: 'Heddle under tsx (npm run gateway:dev)',
    port: tsxPort,
    model: 'bench-model',
    headers: auth,
    start: async () =>
      spawnProc({
        name: 'heddle-tsx',
        cmd: process.execPath,
        args: ['--import', 'tsx', heddleEntry],
        cwd: root,
        env: heddleEnv(tsxPort),
        cpus: PROXY_CPU,
        nice: NICE,
        logPath: path.join(work, 'heddle-tsx.log'),
      }),
  });

  // --before=<ref>: src/ as it was at that commit (git archive), bundled and run exactly as heddle, so a change
  // is measured against what came before it in the same run, on the same machine load.
  if (before) {
    const beforePort = await freePort();
    const beforeDir = path.join(bundles, `before-${before.replace(/[^\w.-]/g, '_')}`);
    contenders.push({
      name: 'heddle-before',
      label: `Heddle at ${before} (before), same build`,
      port: beforePort,
      model: 'bench-model',
      headers: auth,
      start: () => {
        mkdirSync(beforeDir, { recursive: true });
        execFileSync('sh', ['-c', `git archive ${JSON.stringify(before)} src | tar -x -C ${JSON.stringify(beforeDir)}`], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
        return bundled('heddle-before', path.join(beforeDir, 'src', 'node.ts'), path.join(beforeDir, 'heddle-node.mjs'), heddleEnv(beforePort));
      },
    });
  }

  const portkeyPort = await freePort();
  let portkeyEntry: string | undefined;
  let portkeyInstallError: string | undefined;
  if (only.includes('portkey')) {
    try {
      portkeyEntry = ensurePortkey(flag('fresh-portkey'), log);
    } catch (err) {
      portkeyInstallError = String(err);
    }
  }
  contenders.push({
    name: 'portkey',
    label: `Portkey gateway ${PORTKEY_VERSION} (node build/start-server.js; @hono/node-server ${PORTKEY_HONO_NODE_SERVER})`,
    port: portkeyPort,
    model: 'fixed-model',
    headers: { ...auth, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstreamV1 },
    start: () => {
      if (!portkeyEntry) throw new Error(`Portkey not installed: ${portkeyInstallError ?? 'unknown'}`);
      return spawnProc({
        name: 'portkey',
        cmd: process.execPath,
        args: [portkeyEntry, `--port=${portkeyPort}`, '--headless'],
        cwd: path.dirname(portkeyEntry),
        env: { NODE_ENV: 'production' },
        cpus: PROXY_CPU,
        nice: NICE,
        logPath: path.join(work, 'portkey.log'),
      });
    },
  });

  const selected = contenders.filter((c) => only.includes(c.name));
  const perRound = new Map<string, ContenderResult[]>();
  for (let r = 1; r <= rounds; r++) {
    for (const c of selected) {
      log(`round ${r}/${rounds}: ${c.label}`);
      let result: ContenderResult;
      try {
        result = await measure(c, upstream, r);
      } catch (err) {
        result = { name: c.name, label: c.label, error: String(err) };
      }
      perRound.set(c.name, [...(perRound.get(c.name) ?? []), result]);
    }
  }
  const paired = selected.filter((c) => PAIRED.has(c.name));
  const interleaved =
    interleaveCycles > 0 && paired.some((c) => c.name === 'minimal') && paired.some((c) => c.name.startsWith('heddle'))
      ? await runInterleaved(paired, upstream, Math.max(...rates, 0) || 1000)
      : undefined;
  await stopProc(upstream);

  let profileSummary: string | undefined;
  if (profile && existsSync(profDir)) {
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    const biggest = files
      .map((f) => path.join(profDir, f))
      .sort((a, b) => readFileSync(b).length - readFileSync(a).length)[0];
    if (biggest) profileSummary = summarizeProfile(readFileSync(biggest, 'utf8'), root, heddleBundle);
  }

  log('measuring the Workers bundle');
  const bundle = measureBundle(root);

  const results: OverheadResults = {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    settings: { nice: NICE, waitQuiet: quietLoad, durationS, rounds, rates, interleaveCycles, sliceS, rateWarmupS, connections, ttfbRequests, ttfbWarmup, ttfbWarmupConcurrency, wrkThreads: 1, chunkGapMs, portkeyVersion: PORTKEY_VERSION, portkeyHonoNodeServer: PORTKEY_HONO_NODE_SERVER, ...(before ? { before } : {}) },
    contenders: selected.map((c) => mergeRounds(perRound.get(c.name) ?? [])),
    ...(interleaved ? { interleaved } : {}),
    bundle,
  };
  const md = renderReport(results);
  if (write) {
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, 'overhead.json'), `${JSON.stringify({ ...results, perRound: Object.fromEntries(perRound) }, null, 2)}\n`);
    writeFileSync(path.join(outDir, 'overhead.md'), md);
    if (profileSummary) writeFileSync(path.join(outDir, 'overhead-profile.md'), profileSummary);
    log(`wrote ${path.relative(root, outDir)}/overhead.{md,json}${profileSummary ? ' and overhead-profile.md' : ''}`);
  }
  process.stdout.write(md);
  if (profileSummary) process.stdout.write(`\n${profileSummary}`);
  log(`logs in ${work}`);
}

main()
  .catch(async (err: unknown) => {
    log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
  });
