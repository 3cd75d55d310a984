import { describe, expect, it } from 'vitest';
import { afterTurnSends, endOfTurn, sendTurn, servingEnded, servingStarted } from '../../../src/node/turn.js';

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('src/node/turn.ts', () => {
  it('resolves every wait of one turn together, in its check phase, and starts a new one after', async () => {
    const order: string[] = [];
    const first = endOfTurn();
    expect(endOfTurn()).toBe(first);
    void first.then(() => order.push('turn'));
    await Promise.resolve();
    expect(order).toEqual([]);
    await immediate();
    expect(order).toEqual(['turn']);
    const next = endOfTurn();
    expect(next).not.toBe(first);
    await next;
  });

  it('holds sends only while other requests are being served', async () => {
    expect(sendTurn()).toBeUndefined();
    servingStarted();
    expect(sendTurn()).toBeUndefined();
    servingStarted();
    const held = sendTurn();
    expect(held).toBeInstanceOf(Promise);
    servingEnded();
    expect(sendTurn()).toBeUndefined();
    servingEnded();
    await held;
  });

  it('runs work after the answers need not wait for once the sends the turn held have left, lone requests included', async () => {
    const order: string[] = [];
    // A lone request: nothing holds its send, and its record waits for the turn.
    afterTurnSends(() => order.push('record 1'));
    order.push('answer 1');
    await Promise.resolve();
    expect(order).toEqual(['answer 1']);
    await immediate();
    expect(order).toEqual(['answer 1', 'record 1']);

    // Overlapping requests: a record queued before a held send still runs after it.
    order.length = 0;
    afterTurnSends(() => order.push('record 2'));
    void endOfTurn().then(() => order.push('held answer'));
    afterTurnSends(() => order.push('record 3'));
    await immediate();
    expect(order).toEqual(['held answer', 'record 2', 'record 3']);

    // A wait begun while the records run belongs to the next turn, and that turn still ends.
    let next: Promise<void> | undefined;
    afterTurnSends(() => {
      next = endOfTurn();
    });
    await immediate();
    expect(next).toBeInstanceOf(Promise);
    await next;
  });
});
