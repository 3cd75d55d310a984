import { describe, expect, it } from 'vitest';
import { endOfTurn, sendTurn, servingEnded, servingStarted } from '../../../src/node/turn.js';

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
});
