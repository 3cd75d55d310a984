/**
 * Plumbing shared by the loopback fakes (fake-openai, fake-anthropic, fake-gemini): listen on 127.0.0.1 on a free
 * (or given) port, close with every open connection, and read a request the way each fake records it.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

export async function listenOnLoopback(server: Server, port = 0): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/** A request as the Anthropic and Gemini fakes record it. */
export interface RecordedRequest {
  method: string;
  /** Path including any query string, e.g. /v1beta/models/echo:streamGenerateContent?alt=sse */
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

/** The request as a fake records it: body parsed as JSON when it is JSON (else kept as text), headers flattened. */
export async function readRequest(req: IncomingMessage): Promise<RecordedRequest> {
  const raw = await readBody(req);
  let body: unknown = raw;
  try {
    body = JSON.parse(raw);
  } catch {
    // kept as text; each fake decides how to reject it
  }
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
  return { method: req.method ?? '', path: req.url ?? '', headers, body };
}
