/**
 * An AbortController that follows the client's request signal and that a stream's cancel can also abort:
 * either way the upstream call stops.
 */
export function linkAbort(client: AbortSignal): AbortController {
  const controller = new AbortController();
  if (client.aborted) controller.abort(client.reason);
  else client.addEventListener('abort', () => controller.abort(client.reason), { once: true });
  return controller;
}
