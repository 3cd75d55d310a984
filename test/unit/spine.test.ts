import { describe, expect, it } from 'vitest';
import type { Deps } from '../../src/deps.js';
import { HeddleError } from '../../src/errors.js';
import type { AuditRecord } from '../../src/observability/audit.js';
import { Metrics } from '../../src/observability/metrics.js';
import { RequestTrace } from '../../src/spine.js';

/** The deps a RequestTrace reads, with a clock the test moves and the deferred work kept for the test to run. */
function traceDeps(audit: (record: AuditRecord) => void) {
  const clock = { ms: 1000 };
  const deferred: (() => void)[] = [];
  const logged: { message: string; fields?: Record<string, unknown> }[] = [];
  const metrics = new Metrics();
  const deps = {
    newId: () => 'req-1',
    now: () => clock.ms,
    audit,
    metrics,
    log: (_level: string, message: string, fields?: Record<string, unknown>) => logged.push({ message, fields }),
    afterAnswer: (task: () => void) => deferred.push(task),
  } as unknown as Deps;
  return { deps, clock, deferred, logged, metrics };
}

describe('RequestTrace (src/spine.ts)', () => {
  it('records a finished request once the answer has left (deps.afterAnswer), with the timings of its finish', () => {
    const audit: AuditRecord[] = [];
    const { deps, clock, deferred, metrics } = traceDeps((r) => audit.push(r));
    const trace = new RequestTrace(deps, 'chat', 'bench-model', false);
    clock.ms += 40;
    trace.markFirstByte();
    clock.ms += 2;
    trace.finish(200);
    trace.finish(500); // once only
    expect(audit).toEqual([]);
    expect(metrics.render()).not.toContain('endpoint="chat"');
    expect(deferred).toHaveLength(1);

    clock.ms += 500; // the answer's write and whatever ran before the deferred work: not the request's time
    deferred[0]?.();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ request_id: 'req-1', status: 200, duration_ms: 42, ttfb_ms: 40, model: 'bench-model' });
    expect(metrics.render()).toMatch(/heddle_requests_total\{[^}]*endpoint="chat"[^}]*status="200"[^}]*\} 1/);
  });

  it('logs a failing audit sink without throwing into the request', () => {
    const { deps, deferred, logged } = traceDeps(() => {
      throw new Error('disk full');
    });
    const trace = new RequestTrace(deps, 'chat', 'm', true);
    trace.finish(502, new HeddleError({ status: 502, type: 'api_error', code: 'upstream_error', message: 'bad gateway' }));
    expect(() => deferred[0]?.()).not.toThrow();
    expect(logged).toEqual([{ message: 'recording a request failed', fields: { request_id: 'req-1', error: 'disk full' } }]);
  });

  it("answers a bug as a 500 with no internals, and logs it with its stack; a HeddleError is answered as it is", () => {
    const audit: AuditRecord[] = [];
    const { deps, deferred, logged } = traceDeps((r) => audit.push(r));
    const bug = new TypeError("Cannot read properties of undefined (reading 'choices')");
    const error = new RequestTrace(deps, 'chat', 'm', false).failed(bug);
    expect(error).toMatchObject({ status: 500, type: 'api_error', message: 'Internal error in Heddle (this is a bug).' });
    expect(logged).toEqual([{ message: 'unhandled error', fields: { where: 'chat', error: bug.stack } }]);

    const refused = new HeddleError({ status: 403, type: 'permission_error', code: 'privacy_no_cleared_target', message: 'no' });
    expect(new RequestTrace(deps, 'chat', 'm', false).failed(refused)).toBe(refused);
    expect(logged).toHaveLength(1);
    for (const task of deferred) task();
    expect(audit.map((r) => r.status)).toEqual([500, 403]);
  });

  it('records at once where the runtime defers nothing (Workers)', () => {
    const audit: AuditRecord[] = [];
    const { deps } = traceDeps((r) => audit.push(r));
    delete (deps as { afterAnswer?: unknown }).afterAnswer;
    new RequestTrace(deps, 'embeddings', 'm', false).finish(200);
    expect(audit.map((r) => [r.endpoint, r.status])).toEqual([['embeddings', 200]]);
  });
});
