import { getRequestListener } from '@hono/node-server';
import { randomUUID } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import { createServer } from 'node:http';
import * as fsp from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Agent, type Dispatcher } from 'undici';
import { createApp } from './app.js';
import { DiskStore, diskSecret, ResponseCache } from './cache/index.js';
import type { Deps, LoadedPolicy } from './deps.js';
import { AuditWriter } from './node/audit-writer.js';
import { openAiFastPath } from './node/fast-path.js';
import { hmacSigner } from './node/hmac.js';
import { afterTurnSends } from './node/turn.js';
import type { AuditSink } from './observability/audit.js';
import { Metrics } from './observability/metrics.js';
import { loadPolicy, PolicyError } from './policy/index.js';
import type { HttpSend, UpstreamResponse } from './providers/http.js';
import { Resilience } from './resilience/index.js';

// Node entry: policy from disk with hot reload, undici keep-alive pools to upstreams, audit lines batched to
// stdout, /metrics, and a fast path for the hot OpenAI endpoints (src/node/). Everything else is the shared app.

export interface NodeGatewayOptions {
  policyFile: string;
  host: string;
  port: number;
  /** 'stdout' (default), 'off', or a function receiving each record (tests). */
  audit: 'stdout' | 'off' | AuditSink;
  env: Record<string, string | undefined>;
  watchPolicy: boolean;
  /** Where problems and reloads are logged; stderr JSON lines by default. */
  log?: Deps['log'];
  /**
   * Serve POST /v1/chat/completions and /v1/embeddings straight from node:http (src/node/fast-path.ts) instead of
   * through Hono; the answers are the same. Default true; false is for tests comparing the two.
   */
  fastPath?: boolean;
}

export interface RunningGateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** undici keep-alive pools; one per connect timeout in use (undici sets that timeout per pool, not per request). */
function agentsByConnectTimeout(): (connectTimeoutMs: number | undefined) => Agent {
  const agents = new Map<number, Agent>();
  return (ms = 10_000) => {
    let agent = agents.get(ms);
    if (agent === undefined) {
      agent = new Agent({ keepAliveTimeout: 30_000, connections: 512, connect: { timeout: ms } });
      agents.set(ms, agent);
    }
    return agent;
  };
}

export function undiciHttpSend(agentFor = agentsByConnectTimeout()): HttpSend {
  // Upstream URLs repeat (a target's base + a fixed path): each is split into origin and path once, and later calls
  // go straight to the agent instead of parsing the URL again every time (undici's request(url) would).
  const split = new Map<string, { origin: string; path: string }>();
  return async (req) => {
    let at = split.get(req.url);
    if (at === undefined) {
      const url = new URL(req.url);
      at = { origin: url.origin, path: url.search ? `${url.pathname}${url.search}` : url.pathname };
      if (split.size >= 1024) split.clear();
      split.set(req.url, at);
    }
    // Not held for the end of the turn as answers are (src/node/turn.ts): undici already writes a request on a
    // reused keep-alive socket in the check phase, after the turn's I/O callbacks (its idle-socket check,
    // GHSA-35p6-xmwp-9g52), so this turn's upstream calls leave together anyway. Dispatched from a held turn, the
    // write would wait for the next turn's check phase instead: a whole loop iteration more under load.
    const res = await agentFor(req.connectTimeoutMs).request({
      origin: at.origin,
      path: at.path,
      method: req.method,
      headers: req.headers,
      body: req.body ?? null,
      // undici listens to any object with addEventListener (an Aborter, see src/abort.ts); its types say AbortSignal.
      signal: (req.signal ?? null) as AbortSignal | null,
      // The attempt loop owns timeouts (first byte, idle, total), per policy.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    return new UndiciResponse(res);
  };
}

/** An undici answer as an UpstreamResponse: one object per answer, not one and a closure per method. */
class UndiciResponse implements UpstreamResponse {
  readonly status: number;

  constructor(private readonly res: Dispatcher.ResponseData) {
    this.status = res.statusCode;
  }

  header(name: string): string | null {
    const v = this.res.headers[name];
    return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
  }

  text(): Promise<string> {
    return this.res.body.text();
  }

  chunks(): AsyncIterable<Uint8Array> {
    return drainingOnEarlyReturn(this.res.body);
  }

  discard(): void {
    this.res.body.destroy();
  }
}

/**
 * A body's chunks. A reader that stops before the body's end (an SSE reader at `[DONE]`, usually a few bytes before
 * the chunked body's own end) leaves the rest to drain in the background (at most 1 MiB, 5 s) instead of destroying
 * the body, which would close the upstream connection and make the next request open a new one. An error or an
 * abort still destroys it.
 */
function drainingOnEarlyReturn(body: Dispatcher.ResponseData['body']): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const it = body.iterator({ destroyOnReturn: false }) as AsyncIterator<Uint8Array>;
      return {
        next: () => it.next(),
        return: async (value?: unknown) => {
          await it.return?.();
          // A plain timer, cleared when the body ends: AbortSignal.timeout would build a signal per stream, and a
          // DOMException when it fires, 5 s later, whether or not the body had long ended.
          const stop = setTimeout(() => body.destroy(), 5000).unref();
          void body.dump({ limit: 1024 * 1024 }).finally(() => clearTimeout(stop));
          return { done: true, value } as IteratorReturnResult<Uint8Array>;
        },
      };
    },
  };
}

function log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level, message, ...fields })}\n`);
}

/**
 * The response cache: in memory (bounded by the policy's cache.max_bytes), plus a disk store when HEDDLE_CACHE_DIR
 * is set (bounded by HEDDLE_CACHE_DISK_BYTES, default 1 GiB), so evaluation re-runs survive a restart. Keys are
 * HMAC'd with HEDDLE_CACHE_SECRET; without it, a random secret per process (memory) or one kept in the directory.
 */
async function nodeCache(env: Record<string, string | undefined>, log: Deps['log']): Promise<ResponseCache> {
  const dir = env.HEDDLE_CACHE_DIR;
  if (dir === undefined || dir === '') return new ResponseCache({ secret: env.HEDDLE_CACHE_SECRET, signer: hmacSigner });
  const diskBytes = Number(env.HEDDLE_CACHE_DISK_BYTES ?? 1024 ** 3);
  const persistent = await DiskStore.open(fsp, resolve(dir), Number.isFinite(diskBytes) ? diskBytes : 1024 ** 3);
  return new ResponseCache({ secret: await diskSecret(fsp, resolve(dir), env.HEDDLE_CACHE_SECRET), signer: hmacSigner, persistent, log });
}

export async function startGateway(options: NodeGatewayOptions): Promise<RunningGateway> {
  const file = resolve(options.policyFile);
  let current: LoadedPolicy = loadPolicy(readFileSync(file, 'utf8'), options.policyFile, options.env);

  const logger = options.log ?? log;
  // The folder is watched, not the file: editors save by writing a new file and renaming it over the old one,
  // which ends a watch on the old inode. Bursts of events (truncate, write) are coalesced into one reload, and
  // the swap is one assignment, so a request in flight keeps the policy it started with.
  let reloadTimer: ReturnType<typeof setTimeout> | undefined;
  const reload = () => {
    reloadTimer = undefined;
    try {
      current = loadPolicy(readFileSync(file, 'utf8'), options.policyFile, options.env);
      logger('info', 'policy reloaded', { policy: options.policyFile });
    } catch (err) {
      const problems = err instanceof PolicyError ? err.problems : [String(err)];
      logger('warn', 'policy edit rejected; keeping the last good policy', { policy: options.policyFile, problems });
    }
  };
  const watcher = options.watchPolicy
    ? watch(dirname(file), { persistent: false }, (_event, name) => {
        if (name !== null && name !== basename(file)) return;
        if (reloadTimer !== undefined) clearTimeout(reloadTimer);
        reloadTimer = setTimeout(reload, 50);
      })
    : undefined;

  // Each attempt names its target's connect timeout (route and target overrides applied); see agentsByConnectTimeout.
  const http = undiciHttpSend();
  const now = () => performance.now();
  const resilience = new Resilience({ http, now });
  await resilience.startProbes({
    targets: () => current.policy.targets.values(),
    config: () => current.policy.resilience.health,
  });
  // Audit lines go to stdout without blocking the event loop (src/node/audit-writer.ts).
  const auditWriter = options.audit === 'stdout' ? new AuditWriter(1, { warn: (message, fields) => logger('warn', message, fields) }) : undefined;
  const deps: Deps = {
    policy: () => current,
    http,
    now,
    audit: typeof options.audit === 'function' ? options.audit : auditWriter !== undefined ? (record) => auditWriter.line(JSON.stringify(record)) : () => undefined,
    log: logger,
    metrics: new Metrics(),
    newId: () => randomUUID(),
    resilience,
    cache: await nodeCache(options.env, logger),
    afterAnswer: afterTurnSends,
  };
  const app = createApp(deps);
  const hono = getRequestListener(app.fetch);
  const fast = options.fastPath === false ? undefined : openAiFastPath(deps);
  const server = createServer((req, res) => {
    if (fast?.(req, res) !== true) void hono(req, res);
  });
  // Idle client connections stay open for 65 s, not Node's 5 s: SDK and load-balancer pools keep theirs for a minute
  // (a load balancer's idle timeout is usually 60 s, which this must exceed), and closing one under them makes the
  // next request pay a new connection or race the close. Headers must still arrive within a minute (Node's default).
  server.keepAliveTimeout = 65_000;

  return new Promise((resolveStart, rejectStart) => {
    server.listen(options.port, options.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      const url = `http://${options.host}:${port}`;
      resolveStart({
        url,
        port,
        close: () =>
          new Promise<void>((done) => {
            watcher?.close();
            if (reloadTimer !== undefined) clearTimeout(reloadTimer);
            resilience.stop();
            // Answers in flight end with the connections; their audit lines are written before close resolves.
            server.close(() => void (auditWriter?.drained() ?? Promise.resolve()).then(done));
            server.closeAllConnections();
          }),
      });
    });
    server.once('error', rejectStart);
  });
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const env = process.env;
  startGateway({
    policyFile: env.HEDDLE_POLICY ?? 'policies/default.yaml',
    host: env.HEDDLE_HOST ?? '127.0.0.1',
    port: Number(env.HEDDLE_PORT ?? 8787),
    audit: env.HEDDLE_AUDIT === 'off' ? 'off' : 'stdout',
    env,
    watchPolicy: env.HEDDLE_WATCH !== '0',
  }).then(
    (gw) => {
      log('info', `Heddle listening on ${gw.url} (OpenAI base URL ${gw.url}/v1)`);
      const stop = () => void gw.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      if (err instanceof PolicyError) {
        process.stderr.write(`Heddle: the policy is invalid:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
      } else {
        process.stderr.write(`Heddle failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
      }
      process.exit(1);
    },
  );
}
