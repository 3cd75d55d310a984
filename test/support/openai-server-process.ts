/**
 * The fake OpenAI-wire server (fake-openai.ts) in a process of its own, so tests and benchmarks can kill -9 it
 * like a real node. Run with `node --import tsx test/support/openai-server-process.ts`; env PORT (default: a
 * free one), DRIP_MS, SLOW_MS. Prints one line `{"port":N}` on stdout once listening.
 */
import { startFakeOpenAi } from './fake-openai.js';

const env = process.env;
const server = await startFakeOpenAi({
  port: Number(env.PORT ?? 0),
  ...(env.DRIP_MS !== undefined ? { dripMs: Number(env.DRIP_MS) } : {}),
  ...(env.SLOW_MS !== undefined ? { slowMs: Number(env.SLOW_MS) } : {}),
});
process.stdout.write(`${JSON.stringify({ port: Number(new URL(server.url).port) })}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
