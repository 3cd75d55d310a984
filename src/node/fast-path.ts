import type { IncomingMessage, ServerResponse } from 'node:http';
import { Aborter } from '../abort.js';
import type { Deps } from '../deps.js';
import { caught, HeddleError } from '../errors.js';
import { withFields } from '../fields.js';
import type { EdgeAnswer } from '../dialects/answer.js';
import { tooLarge } from '../dialects/openai/parse.js';
import { chatCompletions, embeddings, openAiErrorAnswer, type EdgeCall } from '../dialects/openai/serve.js';
import type { StreamBody } from '../stream/respond.js';
import { sendTurn, servingEnded, servingStarted } from './turn.js';

// The Node entry's fast path for the hot endpoints, POST /v1/chat/completions and /v1/embeddings: served from
// node:http's IncomingMessage and ServerResponse directly, without the web Request, Response and ReadableStream
// that Hono on @hono/node-server builds for every request. The endpoints themselves are the same functions Hono
// mounts (dialects/openai/serve.ts), so the status, headers, bytes and errors are the same; everything else
// (other paths and methods, other dialects) goes to the Hono app.

type Endpoint = (deps: Deps, text: string, call: EdgeCall) => Promise<EdgeAnswer>;

const ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map([
  ['/v1/chat/completions', chatCompletions],
  ['/v1/embeddings', embeddings],
]);

/** A request listener that serves the hot endpoints and returns true, or returns false for the Hono app to serve. */
export function openAiFastPath(deps: Deps): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST' || req.url === undefined) return false;
    const query = req.url.indexOf('?');
    const path = query === -1 ? req.url : req.url.slice(0, query);
    const endpoint = ENDPOINTS.get(path);
    if (endpoint === undefined) return false;
    servingStarted();
    serve(deps, endpoint, path, req, res).then(servingEnded, (err: unknown) => {
      servingEnded();
      // Only a bug gets here (answers and their errors are written inside): logged, and the connection dropped.
      caught(deps, path, err);
      res.destroy();
    });
    return true;
  };
}

async function serve(deps: Deps, endpoint: Endpoint, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const controller = new Aborter();
  let stream: StreamBody | undefined;
  // 'close' comes once; `on` spares the wrapper `once` makes (as for the body's events below).
  res.on('close', () => {
    if (res.writableFinished) return;
    if (stream !== undefined) void stream.cancel();
    else controller.abort();
  });
  let answer: EdgeAnswer;
  try {
    // Headers are read from node's raw list: its `headers` object would be built for nothing.
    const headers = rawHeaderLookup(req.rawHeaders);
    const text = await readBody(req, headers.get('content-length'), deps.policy().policy.maxBodyBytes);
    const call = { headers, signal: controller, controller, remoteAddress: req.socket.remoteAddress };
    answer = await endpoint(deps, text, call);
  } catch (err) {
    answer = openAiErrorAnswer(caught(deps, path, err));
  }
  if (answer.kind === 'json') {
    // With the other answers and upstream calls of this turn, under load (turn.ts).
    const turn = sendTurn();
    if (turn !== undefined) await turn;
    if (res.destroyed) return;
    // A string body leaves in one write with the head (node joins them); a Buffer would take a second.
    res.writeHead(answer.status, withFields(answer.headers, { 'content-length': String(Buffer.byteLength(answer.body)) }));
    res.end(answer.body);
    return;
  }
  stream = answer.body;
  // The client left while the stream was being committed.
  if (res.destroyed) return void stream.cancel();
  res.writeHead(200, answer.headers);
  await writeStream(res, stream);
}

/**
 * Writes a stream body, waiting for the client to take what was written before reading on. Each step leaves in one
 * write (the first with the head: status line, headers, the chunks read before commit and the first content), and
 * at once: the next step may be an upstream round trip away.
 */
async function writeStream(res: ServerResponse, body: StreamBody): Promise<void> {
  for (;;) {
    const { bytes, done } = await body.next();
    if (res.destroyed) return;
    let room = true;
    res.cork();
    for (const b of bytes) room = res.write(b);
    if (done) {
      res.end();
      res.uncork();
      return;
    }
    res.uncork();
    if (!room && !(await drained(res))) return;
  }
}

/** True once the client has taken what was written; false if it left first. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const settle = (ok: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = settle(true);
    const onClose = settle(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

const utf8 = new TextDecoder();

/**
 * The body as text, as the Hono path reads it (UTF-8, a leading BOM dropped). Over the policy's limit: a 413, from
 * the declared length before anything is read, or as soon as a body without one grows past it.
 */
function readBody(req: IncomingMessage, declared: string | null, limit: number): Promise<string> {
  if (declared !== null && Number(declared) > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.byteLength;
      if (size <= limit) parts.push(part);
      else reject(tooLarge(limit));
    });
    req.on('end', () => resolve(utf8.decode(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts))));
    // A client that leaves mid-body is past answering; this only ends the request's work (and is not a bug).
    const left = () => {
      if (!req.complete) reject(new HeddleError({ status: 499, type: 'api_error', code: 'cancelled', message: 'The client closed the request.' }));
    };
    req.on('error', left);
    req.on('close', left);
  });
}

/**
 * The request headers as web `Headers` would give them, read from node's raw list: names case-insensitive,
 * repeated headers joined with ", " (node's own `headers` object keeps only the first Authorization, for one),
 * surrounding whitespace dropped. Callers ask by lower-case name.
 */
export function rawHeaderLookup(raw: readonly string[]): Pick<Headers, 'get'> {
  return {
    get(name) {
      let value: string | null = null;
      for (let i = 0; i < raw.length; i += 2) {
        const key = raw[i] as string;
        if (key.length !== name.length || key.toLowerCase() !== name) continue;
        const v = trimHttpWhitespace(raw[i + 1] as string);
        value = value === null ? v : `${value}, ${v}`;
      }
      return value;
    },
  };
}

function isHttpWhitespace(c: number): boolean {
  return c === 9 || c === 10 || c === 13 || c === 32;
}

function trimHttpWhitespace(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isHttpWhitespace(value.charCodeAt(start))) start++;
  while (end > start && isHttpWhitespace(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}
