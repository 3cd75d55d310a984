// How much slower the same JS runs right after the process has been idle, on this machine (not a test). The TTFB
// phase of bench/overhead sends one streamed request at a time, so every request meets a process that slept since
// the last one; this measures what that costs per unit of work, apart from any gateway: parse and re-serialize the
// benchmark's chat request (what every proxy does on its request path), first right after a timer wakes the process
// and then once more at once, against the same work run back to back.
// Usage: npx tsx bench/overhead/idle-penalty.ts [--samples 300]
import { countArg } from '../lib/args.js';
import { median } from '../lib/stats.js';
import { chatBody } from './answers.js';

const samples = countArg('samples', 300);
const body = chatBody('bench-model', true);
const now = () => process.hrtime.bigint();
const micros = (from: bigint, to: bigint) => Number(to - from) / 1e3;

function work(): number {
  const req = JSON.parse(body) as { model: string };
  req.model = 'upstream-model';
  return JSON.stringify(req).length;
}

for (let i = 0; i < 20_000; i++) work(); // optimized by the JIT before anything is timed

const backToBack: number[] = [];
for (let i = 0; i < samples; i++) {
  const t0 = now();
  work();
  backToBack.push(micros(t0, now()));
}
process.stdout.write(`back to back: ${median(backToBack).toFixed(1)} us (median of ${samples})\n`);

for (const gapMs of [1, 3, 15, 50]) {
  const first: number[] = [];
  const again: number[] = [];
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const t0 = now();
      work();
      const t1 = now();
      work();
      first.push(micros(t0, t1));
      again.push(micros(t1, now()));
      if (first.length === samples) {
        clearInterval(timer);
        resolve();
      }
    }, gapMs);
  });
  process.stdout.write(`after ${gapMs} ms idle: first ${median(first).toFixed(1)} us, again at once ${median(again).toFixed(1)} us\n`);
}
