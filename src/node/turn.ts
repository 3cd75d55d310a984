// Socket writes gathered at the end of the event loop's turn, under load. On one machine (a laptop running
// DeepFabric, Heddle and a FastLLM node; the benchmarks) every send over loopback runs the receiver's side of TCP
// inline and wakes the receiving process, and waking a process that sleeps on another core is the dearest part of
// the send (in a VM, an interrupt across cores). Written as each request finishes, every answer and every upstream
// call wakes its peer anew; held until the turn's I/O callbacks have run, the sends leave back to back, and a peer
// woken by the first is still awake for the rest: a fifth less CPU per request at saturation (bench/results/
// overhead.md, 101 -> 79 us). A request alone has nothing to share a turn with and would only wait (0.04-0.07 ms
// at p50 at 1000 requests/s when every send waited), so only requests that overlap others are held.

let turn: Promise<void> | undefined;
let serving = 0;

/** Resolves in this turn's check phase (setImmediate), after its I/O callbacks; one promise for all who wait. */
export function endOfTurn(): Promise<void> {
  turn ??= new Promise((resolve) => {
    setImmediate(() => {
      turn = undefined;
      resolve();
    });
  });
  return turn;
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
