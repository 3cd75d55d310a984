import { withFields } from '../fields.js';
import { readableOf, type StreamBody } from '../stream/respond.js';

// What a dialect's edge answers, before a runtime writes it: as a web Response (Hono, Workers: webResponse), or
// straight onto Node's ServerResponse (the Node entry's fast path). Both write the same status, headers and bytes.

export type EdgeAnswer =
  | { kind: 'json'; status: number; headers: Record<string, string>; body: string }
  | { kind: 'stream'; headers: Record<string, string>; body: StreamBody };

export function jsonAnswer(status: number, value: unknown, headers: Record<string, string> = {}): EdgeAnswer {
  return { kind: 'json', status, headers: withFields({ 'content-type': 'application/json' }, headers), body: JSON.stringify(value) };
}

export function webResponse(answer: EdgeAnswer): Response {
  if (answer.kind === 'json') return new Response(answer.body, { status: answer.status, headers: answer.headers });
  return new Response(readableOf(answer.body), { status: 200, headers: answer.headers });
}
