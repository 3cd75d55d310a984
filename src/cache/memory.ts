import type { CacheEntry } from './entry.js';

// The in-process store: an LRU bounded by bytes (each entry's serialized size), a Map in insertion order.
// A read moves the entry to the young end; a write evicts from the old end until the total fits.

export interface MemoryStats {
  entries: number;
  bytes: number;
  evictions: number;
}

export class MemoryStore {
  private readonly entries = new Map<string, { entry: CacheEntry; bytes: number }>();
  private total = 0;
  private evicted = 0;

  constructor(private maxBytes: number) {}

  get(key: string): CacheEntry | undefined {
    const slot = this.entries.get(key);
    if (slot === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, slot);
    return slot.entry;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  put(key: string, entry: CacheEntry, bytes: number): void {
    this.delete(key);
    if (bytes > this.maxBytes) return;
    this.entries.set(key, { entry, bytes });
    this.total += bytes;
    this.evict();
  }

  delete(key: string): void {
    const slot = this.entries.get(key);
    if (slot === undefined) return;
    this.entries.delete(key);
    this.total -= slot.bytes;
  }

  /** Follows the policy's bound (it may change on reload). */
  resize(maxBytes: number): void {
    if (maxBytes === this.maxBytes) return;
    this.maxBytes = maxBytes;
    this.evict();
  }

  stats(): MemoryStats {
    return { entries: this.entries.size, bytes: this.total, evictions: this.evicted };
  }

  private evict(): void {
    for (const [key, slot] of this.entries) {
      if (this.total <= this.maxBytes) return;
      this.entries.delete(key);
      this.total -= slot.bytes;
      this.evicted++;
    }
  }
}
