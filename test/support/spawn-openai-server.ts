/**
 * Runs test/support/openai-server-process.ts (the fake OpenAI-wire server) as a child process on loopback, so a
 * test can kill -9 it mid-load and start it again on the same port, like a real node dying and coming back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./openai-server-process.ts', import.meta.url));

export interface ServerProcess {
  port: number;
  /** OpenAI base URL (…/v1). */
  baseURL: string;
  child: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnOpenAiServer(env: { PORT?: number; DRIP_MS?: number } = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
    env: { ...process.env, ...(env.PORT !== undefined ? { PORT: String(env.PORT) } : {}), ...(env.DRIP_MS !== undefined ? { DRIP_MS: String(env.DRIP_MS) } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) {
        child.stdout?.off('data', onData);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`openai-server-process exited with ${code} before listening`)));
  });
  return {
    port,
    baseURL: `http://127.0.0.1:${port}/v1`,
    child,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
