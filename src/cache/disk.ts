import type { PersistentStore } from './cache.js';

// An on-disk store for Node (evaluation re-runs survive a restart): one file per entry, `<dir>/<key>.json`,
// written to a temporary name and renamed, so a crash leaves either the old file or none. The set of files and
// their sizes is read once at open; the store is bounded by bytes, evicting the least recently used files.
// A damaged file is found when read (the cache validates every entry) and removed; it never stops the gateway.
// The file system comes in through `DiskFs` (node:fs/promises fits it), so this module stays runtime-agnostic.

export interface DiskFs {
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<{ size: number; mtimeMs: number }>;
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  writeFile(path: string, data: string, options: { mode: number }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

const ENTRY = /^([0-9a-f]{64})\.json$/;

export class DiskStore implements PersistentStore {
  readonly name = 'disk';
  /** Key -> bytes, oldest use first. */
  private readonly index = new Map<string, number>();
  private total = 0;

  private constructor(
    private readonly fs: DiskFs,
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {}

  static async open(fs: DiskFs, dir: string, maxBytes: number): Promise<DiskStore> {
    const store = new DiskStore(fs, dir, maxBytes);
    await fs.mkdir(dir, { recursive: true });
    const found: Array<{ key: string; size: number; mtime: number }> = [];
    for (const name of await fs.readdir(dir)) {
      const path = `${dir}/${name}`;
      if (name.endsWith('.tmp')) {
        await fs.unlink(path).catch(() => undefined);
        continue;
      }
      const key = ENTRY.exec(name)?.[1];
      if (key === undefined) continue;
      const info = await fs.stat(path).catch(() => undefined);
      if (info !== undefined) found.push({ key, size: info.size, mtime: info.mtimeMs });
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const f of found) store.track(f.key, f.size);
    await store.evict();
    return store;
  }

  async get(key: string): Promise<string | undefined> {
    const size = this.index.get(key);
    if (size === undefined) return undefined;
    this.index.delete(key);
    this.index.set(key, size);
    try {
      return await this.fs.readFile(this.path(key), 'utf8');
    } catch {
      this.untrack(key);
      return undefined;
    }
  }

  async put(key: string, text: string, _ttlSeconds: number): Promise<void> {
    const size = new TextEncoder().encode(text).byteLength;
    if (size > this.maxBytes) return;
    const tmp = `${this.path(key)}.${crypto.randomUUID()}.tmp`;
    await this.fs.writeFile(tmp, text, { mode: 0o600 });
    await this.fs.rename(tmp, this.path(key));
    this.untrack(key);
    this.track(key, size);
    await this.evict();
  }

  async delete(key: string): Promise<void> {
    this.untrack(key);
    await this.fs.unlink(this.path(key)).catch(() => undefined);
  }

  bytes(): number {
    return this.total;
  }

  private path(key: string): string {
    return `${this.dir}/${key}.json`;
  }

  private track(key: string, size: number): void {
    this.index.set(key, size);
    this.total += size;
  }

  private untrack(key: string): void {
    const size = this.index.get(key);
    if (size === undefined) return;
    this.index.delete(key);
    this.total -= size;
  }

  private async evict(): Promise<void> {
    while (this.total > this.maxBytes) {
      const oldest = this.index.keys().next();
      if (oldest.done) return;
      await this.delete(oldest.value);
    }
  }
}

/**
 * The key secret for a disk store: HEDDLE_CACHE_SECRET when set, else one generated once and kept in
 * `<dir>/secret` (mode 0600), so entries written before a restart are found after it.
 */
export async function diskSecret(fs: DiskFs, dir: string, configured: string | undefined): Promise<string> {
  if (configured !== undefined && configured !== '') return configured;
  await fs.mkdir(dir, { recursive: true });
  const path = `${dir}/secret`;
  const existing = await fs.readFile(path, 'utf8').catch(() => '');
  if (/^[0-9a-f]{64}$/.test(existing.trim())) return existing.trim();
  const fresh = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, '0')).join('');
  await fs.writeFile(path, fresh, { mode: 0o600 });
  return fresh;
}
