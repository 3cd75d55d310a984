// Closed-loop saturation with wrk (Debian's `wrk`): POST body via a generated Lua script whose done()
// prints one JSON line with throughput, errors and latency percentiles.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnProc } from './procs.js';

export interface WrkResult {
  requests: number;
  durationS: number;
  rps: number;
  non2xx: number;
  socketErrors: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
}

export function wrkAvailable(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version exits 1 after printing its banner.
    return (err as { status?: number }).status === 1;
  }
}

function luaString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export interface WrkOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  threads: number;
  durationS: number;
  cpus?: string | undefined;
  nice?: number | undefined;
  workDir: string;
  name: string;
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const script = path.join(o.workDir, `${o.name}.lua`);
  writeFileSync(
    script,
    `wrk.method = "POST"
wrk.body = ${luaString(o.body)}
wrk.headers["Content-Type"] = "application/json"
${Object.entries(o.headers)
  .map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`)
  .join('\n')}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50":%d,"p90":%d,"p99":%d,"mean":%f,"max":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
`,
  );
  const p = spawnProc({
    name: `wrk-${o.name}`,
    cmd: 'wrk',
    args: ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.durationS}s`, '--timeout', '10s', '-s', script, o.url],
    cpus: o.cpus,
    nice: o.nice,
    logPath: path.join(o.workDir, `wrk-${o.name}.log`),
    captureStdout: true,
  });
  const code = await p.exited;
  const line = p
    .stdout()
    .split('\n')
    .find((l) => l.startsWith('WRKJSON '));
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}); see ${p.logPath}`);
  const j = JSON.parse(line.slice('WRKJSON '.length)) as Record<string, number>;
  const us = (k: string): number => (j[k] ?? Number.NaN) / 1000;
  const durationS = (j.duration_us ?? 0) / 1e6;
  return {
    requests: j.requests ?? 0,
    durationS,
    rps: (j.requests ?? 0) / durationS,
    non2xx: j.non2xx ?? 0,
    socketErrors: j.socket_errors ?? 0,
    latencyMs: { p50: us('p50'), p90: us('p90'), p99: us('p99'), mean: us('mean'), max: us('max') },
  };
}
