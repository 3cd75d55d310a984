// Server-sent events, in pure layers: bytes -> lines (handling \r\n split across chunks) -> events.
// [DONE] and error handling belong to the callers (each provider's stream reader), not here.

export interface SseEvent {
  event: string | undefined;
  data: string;
}

/** Splits a byte stream into lines; a line ending split across chunks (\r | \n) is handled. */
export async function* lines(chunks: AsyncIterable<Uint8Array>): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let pendingCR = false;
  for await (const chunk of chunks) {
    let text = decoder.decode(chunk, { stream: true });
    if (pendingCR && text.startsWith('\n')) text = text.slice(1);
    pendingCR = false;
    buffer += text;
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const ch = buffer.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      yield buffer.slice(start, i);
      if (ch === 13) {
        if (i + 1 < buffer.length) {
          if (buffer.charCodeAt(i + 1) === 10) i++;
        } else {
          pendingCR = true;
        }
      }
      start = i + 1;
    }
    buffer = buffer.slice(start);
  }
  buffer += decoder.decode();
  if (buffer.length > 0) yield buffer;
}

/** Groups lines into events per the SSE spec: `event:` and `data:` fields, dispatched on a blank line. */
export async function* sseEvents(chunks: AsyncIterable<Uint8Array>): AsyncIterable<SseEvent> {
  let event: string | undefined;
  let data: string[] = [];
  for await (const line of lines(chunks)) {
    if (line === '') {
      if (data.length > 0) yield { event, data: data.join('\n') };
      event = undefined;
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
  }
  // A stream that ends without a trailing blank line still delivers its last event (upstream FastLLM does this).
  if (data.length > 0) yield { event, data: data.join('\n') };
}

const encoder = new TextEncoder();

export function encodeSseData(json: unknown): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(json)}\n\n`);
}

export function encodeSseEvent(event: string, json: unknown): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${JSON.stringify(json)}\n\n`);
}

export const SSE_DONE = encoder.encode('data: [DONE]\n\n');
