// Socket writes gathered at the end of the event loop's turn, under load. On one machine (a laptop running
// DeepFabric, Heddle and a FastLLM node; the benchmarks) every send over loopback runs the receiver's side of TCP
// inline and wakes the receiving process, and waking a process that sleeps on another core is the dearest part of
// the send (in a VM, an interrupt across cores). Written as each request finishes, every answer and every upstream
// call wakes its peer anew; held until the turn's I/O callbacks have run, the sends leave back to back, and a peer
// woken by the first is still awake for the rest: a fifth less CPU per request at saturation (bench/results/
// overhead.md, 101 -> 79 us). A request alone has nothing to share a turn with and would only wait (0.04-0.07 ms
// at p50 at 1000 requests/s when every send waited), so only requests that overlap others are held. The answers are
// held here; upstream calls on reused connections undici itself writes at the end of the turn (undiciHttpSend).
// What an answer need not wait for (its metrics and audit line) runs after the turn's sends, lone requests included:
// at 1000 requests/s, when the process wakes from idle to each request, building the record before the answer had
// cost ~20 us of each answer's time.

let turn: Promise<void> | undefined;
let serving = 0;
let afterSends: (() => void)[] = [];

/** Resolves in this turn's check phase (setImmediate), after its I/O callbacks; one promise for all who wait. */
export function endOfTurn(): Promise<void> {
  turn ??= new Promise((resolve) => {
    setImmediate(() => {
      turn = undefined;
      resolve();
      // Queued behind the reactions resolve() just queued: the held sends leave first.
      if (afterSends.length > 0) queueMicrotask(runAfterSends);
    });
  });
  return turn;
}

/** Runs `task` in this turn's check phase, after the answers the turn held have been sent. */
export function afterTurnSends(task: () => void): void {
  afterSends.push(task);
  void endOfTurn();
}

// Reads the list when it runs, not when the turn ended: records the held answers' reactions queue join this batch
// instead of waiting for another immediate (a variant that took the list at the turn's end measured 2-6 us per
// request slower at saturation).
function runAfterSends(): void {
  const tasks = afterSends;
  afterSends = [];
  for (const task of tasks) task();
}

/** A request the Node entry serves, from its arrival to its answer's last write: started, then ended once. */
export function servingStarted(): void {
  serving++;
}

export function servingEnded(): void {
  serving--;
}

/** Where a send should wait for the end of the turn: while other requests are being served; otherwise nothing. */
export function sendTurn(): Promise<void> | undefined {
  return serving > 1 ? endOfTurn() : undefined;
}
