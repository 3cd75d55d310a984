import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { undiciHttpSend } from '../../../src/node.js';
import { servingEnded, servingStarted } from '../../../src/node/turn.js';

// The Node entry's upstream calls leave in the event-loop turn they are made in: undici writes a request on a reused
// connection in that turn's check phase, so holding the call for the end of the turn as well (as answers are held)
// would push the write one whole turn later. Asserted by the order of events, not by time.

const events: string[] = [];
const server = createServer((req, res) => {
  events.push('upstream got the request');
  req.resume();
  req.on('end', () => res.end('{}'));
});
const agent = new Agent({ keepAliveTimeout: 10_000 });
let url = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
});

afterAll(async () => {
  await agent.close();
  await new Promise((resolve) => server.close(resolve));
});

describe('undiciHttpSend', () => {
  it('writes a call on a reused connection before the next turn ends, while other requests are being served', async () => {
    const send = undiciHttpSend(() => agent);
    const call = () => send({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((res) => res.text());
    // Opens the connection the measured call reuses.
    await call();
    events.length = 0;
    // Two requests in flight: the condition under which the fast path holds answers for the end of the turn.
    servingStarted();
    servingStarted();
    try {
      const answered = await new Promise<Promise<string>>((resolve) =>
        setTimeout(() => {
          // Queued before the call: runs in this turn's check phase and queues the marker for the next one.
          setImmediate(() => setImmediate(() => events.push('the next turn ended')));
          resolve(call());
        }, 0),
      );
      expect(await answered).toBe('{}');
    } finally {
      servingEnded();
      servingEnded();
    }
    expect(events).toEqual(['upstream got the request', 'the next turn ended']);
  });
});
