// Size of the Cloudflare Workers bundle, gzipped. With a wrangler.toml: `wrangler deploy --dry-run
// --outdir`; without one: esbuild from src/worker.ts for the worker platform (what wrangler would do).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface BundleResult {
  method: 'wrangler' | 'esbuild' | 'none';
  note: string;
  rawBytes?: number;
  gzipBytes?: number;
  minifiedRawBytes?: number;
  minifiedGzipBytes?: number;
  /** wrangler's own "Total Upload: ... / gzip: ..." figures, KiB, when it printed them. */
  wranglerReportedKiB?: { upload: number; gzip: number; minifiedUpload?: number; minifiedGzip?: number };
}

function wranglerReported(out: string): { upload: number; gzip: number } | undefined {
  const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(out);
  return m ? { upload: Number(m[1]), gzip: Number(m[2]) } : undefined;
}

function sizes(dir: string): { raw: number; gz: number } {
  let raw = 0;
  let gz = 0;
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(m?js|wasm)$/.test(f)) {
        const b = readFileSync(p);
        raw += b.length;
        gz += gzipSync(b, { level: 9 }).length;
      }
    }
  };
  walk(dir);
  return { raw, gz };
}

function esbuild(root: string, entry: string, outdir: string, minify: boolean): { raw: number; gz: number } {
  const bin = path.join(root, 'node_modules', '.bin', 'esbuild');
  execFileSync(
    bin,
    [
      entry,
      '--bundle',
      '--format=esm',
      '--platform=browser',
      '--target=es2022',
      '--conditions=workerd,worker,browser',
      '--main-fields=module,main',
      '--external:node:*',
      '--external:cloudflare:*',
      ...(minify ? ['--minify'] : []),
      `--outfile=${path.join(outdir, 'worker.js')}`,
      '--log-level=error',
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return sizes(outdir);
}

export function measureBundle(root: string): BundleResult {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'heddle-bundle-'));
  try {
    if (existsSync(path.join(root, 'wrangler.toml'))) {
      try {
        const out = path.join(tmp, 'wrangler');
        const printed = execFileSync(path.join(root, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', '--outdir', out], {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
          timeout: 180_000,
          encoding: 'utf8',
        });
        const rep = wranglerReported(printed);
        const s = sizes(out);
        const outMin = path.join(tmp, 'wrangler-min');
        let min: { raw: number; gz: number } | undefined;
        let repMin: { upload: number; gzip: number } | undefined;
        try {
          const printedMin = execFileSync(
            path.join(root, 'node_modules', '.bin', 'wrangler'),
            ['deploy', '--dry-run', '--minify', '--outdir', outMin],
            {
              cwd: root,
              stdio: ['ignore', 'pipe', 'pipe'],
              env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
              timeout: 180_000,
              encoding: 'utf8',
            },
          );
          min = sizes(outMin);
          repMin = wranglerReported(printedMin);
        } catch {
          /* minified size is a bonus */
        }
        return {
          method: 'wrangler',
          note: 'wrangler deploy --dry-run --outdir (as configured in wrangler.toml); minified = same with --minify',
          rawBytes: s.raw,
          gzipBytes: s.gz,
          ...(min ? { minifiedRawBytes: min.raw, minifiedGzipBytes: min.gz } : {}),
          ...(rep
            ? { wranglerReportedKiB: { ...rep, ...(repMin ? { minifiedUpload: repMin.upload, minifiedGzip: repMin.gzip } : {}) } }
            : {}),
        };
      } catch (err) {
        const e = err as { stderr?: Buffer; message: string };
        const why = (e.stderr?.toString() ?? e.message).split('\n').filter(Boolean).slice(-3).join(' | ');
        if (!existsSync(path.join(root, 'src', 'worker.ts'))) return { method: 'none', note: `wrangler failed: ${why}` };
        const r = esbuildResult(root, tmp);
        return { ...r, note: `${r.note} (wrangler dry-run failed: ${why.slice(0, 200)})` };
      }
    }
    if (existsSync(path.join(root, 'src', 'worker.ts'))) return esbuildResult(root, tmp);
    return { method: 'none', note: 'neither wrangler.toml nor src/worker.ts exists yet' };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function esbuildResult(root: string, tmp: string): BundleResult {
  const entry = path.join(root, 'src', 'worker.ts');
  try {
    const a = esbuild(root, entry, path.join(tmp, 'esb'), false);
    const b = esbuild(root, entry, path.join(tmp, 'esb-min'), true);
    return {
      method: 'esbuild',
      note: 'esbuild src/worker.ts --bundle --platform=browser --conditions=workerd,worker,browser (no wrangler.toml)',
      rawBytes: a.raw,
      gzipBytes: a.gz,
      minifiedRawBytes: b.raw,
      minifiedGzipBytes: b.gz,
    };
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return { method: 'none', note: `esbuild failed: ${(e.stderr?.toString() ?? e.message).slice(0, 300)}` };
  }
}
