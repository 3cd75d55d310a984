// The test suite's fake OpenAI upstream (test/support/fake-openai.ts) in its own process for the cache benchmark:
// `echo` answers at once, `slow` after SLOW_MS (a stand-in for a model's generation time). Prints its URL.
import { startFakeOpenAi } from '../../test/support/fake-openai.js';

const fake = await startFakeOpenAi({ slowMs: Number(process.env.SLOW_MS ?? 50) });
process.stdout.write(`${fake.url}\n`);
process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
