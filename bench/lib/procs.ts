// Child-process helpers for benchmarks: spawn pinned to CPUs, wait for a port, sample RSS,
// and stop every process we started (each in its own process group) on exit, error or Ctrl-C.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import net from 'node:net';

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logPath: string;
  exited: Promise<number | null>;
}

const live = new Set<Proc>();
let hooksInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Synchronous last-resort cleanup: SIGKILL every group still alive. */
export function killAllNow(): void {
  for (const p of live) killGroup(p.pid, 'SIGKILL');
  live.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n[bench] ${sig}: stopping ${live.size} child process(es)\n`);
      killAllNow();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`[bench] uncaught: ${err.stack ?? String(err)}\n`);
    killAllNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`[bench] unhandled rejection: ${err instanceof Error ? err.stack : String(err)}\n`);
    killAllNow();
    process.exit(1);
  });
}

export interface SpawnOptions {
  name: string;
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** CPU list for taskset, e.g. "0" or "1"; undefined = not pinned. */
  cpus?: string | undefined;
  logPath: string;
  /** Scheduling niceness (negative = more CPU share than the machine's other work; needs root). */
  nice?: number | undefined;
  /** Capture stdout into memory too (for children that print a JSON result). */
  captureStdout?: boolean;
}

export interface SpawnResult extends Proc {
  stdout: () => string;
}

let tasksetOk: boolean | undefined;
export function hasTaskset(): boolean {
  if (tasksetOk === undefined) tasksetOk = existsSync('/usr/bin/taskset') || existsSync('/bin/taskset');
  return tasksetOk;
}

/** Moves a running process, every thread of it, onto `cpus` (a taskset list); false where that is not possible. */
export function setAffinity(pid: number, cpus: string): boolean {
  if (!hasTaskset()) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function spawnProc(o: SpawnOptions): SpawnResult {
  installHooks();
  const pinned = o.cpus !== undefined && hasTaskset();
  let cmd = pinned ? 'taskset' : o.cmd;
  let args = pinned ? ['-c', o.cpus as string, o.cmd, ...o.args] : o.args;
  if (o.nice !== undefined && o.nice !== 0) {
    args = ['-n', String(o.nice), cmd, ...args];
    cmd = 'nice';
  }
  // Children write straight into their log file (no pipe through this process, which would cost CPU
  // on an unpinned core during a run); only children whose result we read have a stdout pipe.
  const logFd = openSync(o.logPath, 'a');
  writeSync(logFd, `# ${cmd} ${args.join(' ')}\n`);
  const child = spawn(cmd, args, {
    cwd: o.cwd,
    env: { ...process.env, ...o.env },
    detached: true, // own process group, so killing -pid reaches grandchildren too
    stdio: ['ignore', o.captureStdout ? 'pipe' : logFd, logFd],
  });
  closeSync(logFd);
  if (child.pid === undefined) throw new Error(`failed to spawn ${o.name}`);
  // detached => its own session => its own scheduler autogroup (kernel.sched_autogroup_enabled), where a
  // process's nice only counts against its own group: give the group the same niceness.
  if (o.nice !== undefined && o.nice !== 0) setAutogroupNice(child.pid, o.nice);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      live.delete(proc);
      resolve(code);
    });
    child.on('error', () => resolve(-1));
  });
  const proc: SpawnResult = { name: o.name, child, pid: child.pid, logPath: o.logPath, exited, stdout: () => out };
  live.add(proc);
  return proc;
}

/** Sets the scheduler autogroup niceness of a process's session; false where unsupported or not allowed. */
export function setAutogroupNice(pid: number, nice: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
    return true;
  } catch {
    return false;
  }
}

export async function stopProc(p: Proc, graceMs = 2000): Promise<void> {
  if (!live.has(p)) return;
  killGroup(p.pid, 'SIGTERM');
  const t = setTimeout(() => killGroup(p.pid, 'SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(t);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => stopProc(p)));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export async function waitForPort(port: number, p: Proc, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void p.exited.then(() => {
    dead = true;
  });
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${p.name} exited before listening on ${port}; see ${p.logPath}`);
    if (await tryConnect(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${p.name} did not listen on ${port} within ${timeoutMs} ms; see ${p.logPath}`);
}

/** Resident set size of a process and all its descendants, in bytes (0 if gone). */
export function treeRssBytes(pid: number): number {
  let total = 0;
  const stack = [pid];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const cur = stack.pop() as number;
    if (seen.has(cur)) continue;
    seen.add(cur);
    total += rssBytes(cur);
    try {
      const kids = readFileSync(`/proc/${cur}/task/${cur}/children`, 'utf8').trim();
      if (kids) for (const k of kids.split(/\s+/)) stack.push(Number(k));
    } catch {
      /* gone */
    }
  }
  return total;
}

export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples the process tree's RSS every `everyMs` until stopped; returns the peak and the samples. */
export function sampleRss(pid: number, everyMs = 100): { stop: () => { peak: number; samples: number[] } } {
  const samples: number[] = [];
  const t = setInterval(() => samples.push(treeRssBytes(pid)), everyMs);
  return {
    stop: () => {
      clearInterval(t);
      samples.push(treeRssBytes(pid));
      return { peak: Math.max(0, ...samples), samples };
    },
  };
}

/** Total CPU time (user+sys, seconds) of a process tree, from /proc/<pid>/stat. */
export function treeCpuSeconds(pid: number): number {
  const hz = 100;
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const cur = stack.pop() as number;
    try {
      const stat = readFileSync(`/proc/${cur}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / hz;
      const kids = readFileSync(`/proc/${cur}/task/${cur}/children`, 'utf8').trim();
      if (kids) for (const k of kids.split(/\s+/)) stack.push(Number(k));
    } catch {
      /* gone */
    }
  }
  return total;
}

function cpuJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((s, x) => s + x, 0);
  return { busy: total - idle, total };
}

/** CPU cores kept busy by everything on the machine over `ms` (call while the bench itself is idle). */
export async function backgroundCores(ms = 1000): Promise<number> {
  const a = cpuJiffies();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuJiffies();
  const seconds = (Date.now() - t0) / 1000;
  return (b.busy - a.busy) / 100 / seconds;
}

/**
 * Waits until other processes keep at most `maxCores` CPU cores busy (measured over 2 s while the bench is
 * idle), for at most `timeoutS`; returns the last measurement and whether it got there.
 */
export async function waitQuiet(maxCores: number, timeoutS: number, log: (s: string) => void): Promise<{ quiet: boolean; cores: number }> {
  const deadline = Date.now() + timeoutS * 1000;
  let told = false;
  for (;;) {
    const cores = await backgroundCores(2000);
    if (cores <= maxCores) return { quiet: true, cores };
    if (Date.now() > deadline) return { quiet: false, cores };
    if (!told) log(`waiting until background CPU <= ${maxCores} cores (now ${cores.toFixed(2)}; at most ${timeoutS} s)`);
    told = true;
    await new Promise((r) => setTimeout(r, 3000));
  }
}
