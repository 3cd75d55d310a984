// The ceiling of any Node proxy on this machine: node:http in, undici Pool out, the request JSON parsed
// and re-serialized (as any gateway must to route on `model`), non-streamed answers parsed and
// re-serialized too, streamed answers piped through chunk by chunk. No validation, routing or logging.
// COMMIT_AT_CONTENT=1: the same proxy holding the response head and the chunks before the first content back until
// that content arrives, then sending them in one write, as DESIGN.md's stream commit requires (Heddle commits there
// so that a failover before it stays invisible): the ceiling of any proxy that commits a stream where Heddle does.
import http from 'node:http';
import { Pool } from 'undici';

const port = Number(process.env.PORT ?? 0);
const upstream = new URL(process.env.UPSTREAM_URL ?? 'http://127.0.0.1:9/v1');
const pool = new Pool(upstream.origin, { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 });
const basePath = upstream.pathname.replace(/\/$/, '');
const commitAtContent = process.env.COMMIT_AT_CONTENT === '1';
const contentRe = /"content":"[^"]/;

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (d: Buffer) => parts.push(d));
  req.on('end', () => {
    void (async () => {
      try {
        const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
        const stream = body.stream === true;
        const up = await pool.request({
          method: 'POST',
          path: basePath + (req.url ?? '/').replace(/^\/v1/, ''),
          headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
          body: JSON.stringify(body),
        });
        const ct = String(up.headers['content-type'] ?? 'application/json');
        if (stream) {
          // The head and the chunks held so far, in one write: at the first content, or at the end without one.
          let held: Buffer[] | undefined = commitAtContent ? [] : undefined;
          const commit = (chunks: Buffer[]): void => {
            res.writeHead(up.statusCode, { 'content-type': ct, 'cache-control': 'no-cache' });
            if (chunks.length > 0) res.write(Buffer.concat(chunks));
            held = undefined;
          };
          if (held === undefined) commit([]);
          for await (const c of up.body) {
            if (held === undefined) {
              res.write(c as Buffer);
              continue;
            }
            held.push(c as Buffer);
            if (contentRe.test((c as Buffer).toString('latin1'))) commit(held);
          }
          if (held !== undefined) commit(held);
          res.end();
          return;
        }
        const answer: unknown = await up.body.json();
        const out = JSON.stringify(answer);
        res.writeHead(up.statusCode, { 'content-type': ct, 'content-length': Buffer.byteLength(out) });
        res.end(out);
      } catch (err) {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(err), type: 'proxy_error' } }));
      }
    })();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`minimal proxy on ${port}\n`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
