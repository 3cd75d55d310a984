import { execFileSync } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, write } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditWriter, FLUSH_MS, type WriteFn } from '../../../src/node/audit-writer.js';

// The Node entry's audit lines: every line arrives whole and in order, the event loop never waits on the sink,
// memory stays bounded when the sink stops reading, and a broken sink neither throws nor stops the gateway.

const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
});

const dir = () => mkdtempSync(join(tmpdir(), 'heddle-audit-'));
const turn = () => new Promise((resolve) => setImmediate(resolve));
const record = (i: number) => JSON.stringify({ request_id: `req-${i}`, status: 200, note: 'x'.repeat(i % 97) });

/** A FIFO opened read-write for the writer (so opening it never blocks); nothing reads it until `collect`. */
function fifo(): { fd: number; path: string } {
  const path = join(dir(), 'sink');
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, 'r+');
  fds.push(fd);
  return { fd, path };
}

/** Starts reading a FIFO; `until` resolves with all text read once `done` holds for it. */
function collect(path: string): { until: (done: (text: string) => boolean) => Promise<string>; stop: () => void } {
  const stream = createReadStream(path);
  let text = '';
  const waiters: Array<() => void> = [];
  stream.on('data', (b: Buffer | string) => {
    text += b.toString();
    for (const w of waiters.splice(0)) w();
  });
  return {
    until: async (done) => {
      while (!done(text)) await new Promise<void>((resolve) => waiters.push(resolve));
      return text;
    },
    stop: () => stream.destroy(),
  };
}

describe('AuditWriter', () => {
  it('writes every line, whole and in order, across many turns', async () => {
    const path = join(dir(), 'audit.log');
    const fd = openSync(path, 'w');
    fds.push(fd);
    const writer = new AuditWriter(fd, { warn: () => undefined });
    const expected: string[] = [];
    for (let t = 0; t < 50; t++) {
      for (let i = 0; i < 200; i++) {
        const line = record(t * 200 + i);
        expected.push(line);
        writer.line(line);
      }
      await turn();
    }
    await writer.drained();
    expect(writer.pendingBytes()).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe(`${expected.join('\n')}\n`);
  });

  it('writes lines of any length and any characters as UTF-8, those longer than a buffer included', async () => {
    const path = join(dir(), 'audit.log');
    const fd = openSync(path, 'w');
    fds.push(fd);
    const writer = new AuditWriter(fd, { warn: () => undefined });
    const lines = [
      JSON.stringify({ tenant: 'équipe-données', model: 'モデル', note: '✓ 😀' }),
      JSON.stringify({ note: 'ü'.repeat(100_000) }), // 200 KB of UTF-8: more than a buffer of its own
      record(1),
      JSON.stringify({ note: '日本'.repeat(30_000) }), // 180 KB, after a short line that started a buffer
      record(2),
    ];
    for (const line of lines) writer.line(line);
    expect(writer.pendingBytes()).toBe(Buffer.byteLength(`${lines.join('\n')}\n`));
    await writer.drained();
    expect(readFileSync(path, 'utf8')).toBe(`${lines.join('\n')}\n`);
  });

  it('batches by time: lines offered over many turns and quick writes make ~one write per FLUSH_MS, not one per turn', async () => {
    const path = join(dir(), 'audit.log');
    const fd = openSync(path, 'w');
    fds.push(fd);
    let writes = 0;
    const counting: WriteFn = (...args) => {
      writes++;
      write(...args);
    };
    const writer = new AuditWriter(fd, { warn: () => undefined, write: counting });
    const expected: string[] = [];
    const started = performance.now();
    let turns = 0;
    // Three lines per event-loop turn for 100 ms: thousands of turns, each of which could start a write.
    while (performance.now() - started < 100) {
      for (let i = 0; i < 3; i++) {
        const line = record(expected.length);
        expected.push(line);
        writer.line(line);
      }
      turns++;
      await turn();
    }
    await writer.drained();
    const elapsed = performance.now() - started;
    expect(readFileSync(path, 'utf8')).toBe(`${expected.join('\n')}\n`);
    expect(turns).toBeGreaterThan(100);
    // About one write per FLUSH_MS however many turns offered lines (one per write completion made ~800 here). The
    // bound allows for timers firing up to a millisecond early on the event loop's cached clock.
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(Math.ceil(elapsed / (FLUSH_MS - 2)) + 2);
  });

  it('keeps the event loop running while the sink does not read, then delivers everything in order', async () => {
    const sink = fifo();
    const writer = new AuditWriter(sink.fd, { warn: () => undefined });
    const expected: string[] = [];
    // ~1.3 MB: twenty times a pipe's 64 KB buffer. A synchronous write would block here for good.
    for (let i = 0; i < 20_000; i++) {
      const line = record(i);
      expected.push(line);
      writer.line(line);
      if (i % 1000 === 999) await turn();
    }
    // Past the first flush, so the lines still pending are the ones the sink has not taken.
    await new Promise((resolve) => setTimeout(resolve, 2 * FLUSH_MS));
    expect(writer.pendingBytes()).toBeGreaterThan(0);
    const text = `${expected.join('\n')}\n`;
    const reader = collect(sink.path);
    await writer.drained(60_000);
    expect(writer.pendingBytes()).toBe(0);
    expect(await reader.until((t) => t.length >= text.length)).toBe(text);
    reader.stop();
  });

  it('bounds the lines held for a stuck sink, drops the rest whole, and says how many', async () => {
    const sink = fifo();
    const warnings: Array<Record<string, unknown>> = [];
    const writer = new AuditWriter(sink.fd, { maxPendingBytes: 256 * 1024, warn: (_m, fields) => warnings.push(fields) });
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      writer.line(record(i));
      peak = Math.max(peak, writer.pendingBytes());
      if (i % 500 === 499) await turn();
    }
    expect(peak).toBeLessThanOrEqual(256 * 1024);
    // Once the sink reads again, what was kept arrives: whole lines, in order, fewer than were offered.
    const reader = collect(sink.path);
    await writer.drained(60_000);
    writer.line(record(20_000));
    await writer.drained(60_000);
    const text = await reader.until((t) => t.endsWith(`${record(20_000)}\n`));
    reader.stop();
    const lines = text.split('\n').filter((l) => l !== '');
    const ids = lines.map((l) => (JSON.parse(l) as { request_id: string }).request_id.slice(4)).map(Number);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThan(20_001);
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1] as number);
    expect(warnings.some((w) => typeof w.dropped === 'number' && w.dropped > 0)).toBe(true);
  });

  it('stops quietly when the sink is gone', async () => {
    const fd = 9999; // not open: EBADF
    const warnings: Array<Record<string, unknown>> = [];
    const writer = new AuditWriter(fd, { warn: (_m, fields) => warnings.push(fields) });
    writer.line(record(1));
    await writer.drained();
    expect(warnings).toEqual([{ code: 'EBADF' }]);
    writer.line(record(2));
    await turn();
    expect(writer.pendingBytes()).toBe(0);
  });
});
