// Fixed-answer OpenAI-compatible upstream for the overhead benchmark. Runs in its own process.
// POST /v1/chat/completions -> a fixed chat.completion, or (when the body asks "stream": true) a fixed
// SSE stream: the first chunk at once, then the rest CHUNK_GAP_MS apart, then [DONE]. The first content chunk carries
// the upstream's clock (see `stamped`).
// GET /v1/models -> a one-model list. GET /health, /api/tags and /v1/load answer the health probes Heddle sends a
// FastLLM node and an Ollama server (the default policy's two local targets both point here). Anything else -> 404.
import http from 'node:http';
import { completionJson, created, getAnswers } from './answers.js';

const port = Number(process.env.PORT ?? 0);
const gapMs = Number(process.env.CHUNK_GAP_MS ?? 2);
const completion = Buffer.from(completionJson);
/** GET answers by path, as buffers. */
const gets = new Map([...getAnswers].map(([path, text]) => [path, Buffer.from(text)]));

function chunk(delta: Record<string, unknown>, finish: string | null): string {
  return `data: ${JSON.stringify({
    id: 'chatcmpl-bench0000000000000000000002',
    object: 'chat.completion.chunk',
    created,
    model: 'fixed-model',
    system_fingerprint: 'fp_bench',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  })}\n\n`;
}

/**
 * The first content chunk, written with two times on the machine's monotonic clock (process.hrtime, microseconds;
 * one clock for every process): when the request's body had arrived here and when this chunk was written. The
 * load generator splits a gateway's added time to first content with them: before the upstream (the request path)
 * and after it (the answer path). A gateway passes content through as it is.
 */
function stamped(arrivedUs: bigint): Buffer {
  return Buffer.from(chunk({ content: `Hello [t:${arrivedUs}:${process.hrtime.bigint() / 1000n}]` }, null));
}

/** The stream, in order; `null` is the first content chunk, made by `stamped` when it is sent. */
const sse: Array<Buffer | null> = [
  chunk({ role: 'assistant', content: '' }, null),
  null,
  chunk({ content: '! This is' }, null),
  chunk({ content: ' a fixed stream.' }, null),
  chunk({}, 'stop'),
  'data: [DONE]\n\n',
].map((s) => (s === null ? null : Buffer.from(s)));

const streamRe = /"stream"\s*:\s*true/;

function sendStream(res: http.ServerResponse, arrivedUs: bigint): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let i = 0;
  const next = (): void => {
    const c = sse[i++];
    if (c === undefined) {
      res.end();
      return;
    }
    res.write(c ?? stamped(arrivedUs));
    if (gapMs > 0) setTimeout(next, gapMs);
    else next();
  };
  next();
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url?.endsWith('/chat/completions')) {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const arrivedUs = process.hrtime.bigint() / 1000n;
      const body = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
      if (streamRe.test(body.toString('latin1'))) {
        sendStream(res, arrivedUs);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': completion.length });
      res.end(completion);
    });
    return;
  }
  req.resume();
  const answer = req.method === 'GET' ? gets.get(req.url ?? '') : undefined;
  if (answer !== undefined) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
    res.end(answer);
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":{"message":"not found","type":"invalid_request_error"}}');
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`upstream listening on ${typeof a === 'object' && a ? a.port : port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
