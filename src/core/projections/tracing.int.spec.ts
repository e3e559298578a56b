import { expect } from 'chai';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { inSpan } from '../observability/trace-context.js';

describe('tracing (integration)', function () {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager();
  let h: Harness;

  before(async function () {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
    h = await startHarness();
  });
  after(async function () {
    await h?.close();
    trace.disable();
    context.disable();
  });

  it('stores the trace of the command on its events, and projector spans link to it', async function () {
    const tenantId = uniqueTenant('trace');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'T' })
      .expect(201);
    // A command decided inside a span (as the HTTP instrumentation gives every request).
    const { traceId, spanId, configId } = await inSpan('test request', {}, async (span) => {
      const result = await h.services.configCommands.create(
        { tenantId, key: 'k', value: 'v', type: 'String', environment: 'Development' },
        {
          userId: 'u',
          correlationId: 'c',
          traceId: span.spanContext().traceId,
          spanId: span.spanContext().spanId,
        },
      );
      return { ...span.spanContext(), configId: (result.state as { configId: string }).configId };
    });
    const { events } = await h.services.store.readStream(`config-${configId}`);
    expect(events[0]!.metadata).to.include({ traceId, spanId });

    exporter.reset();
    await h.project();
    const projected = exporter.getFinishedSpans().filter((s) => s.name.startsWith('projection '));
    expect(projected.map((s) => s.name)).to.include.members([
      'projection read-model',
      'projection audit-log',
      'projection redis-cache',
    ]);
    for (const span of projected) {
      expect(span.links.map((l) => l.context.traceId)).to.include(traceId);
    }
    const { rows } = await h.services.pool.query(
      `SELECT (SELECT trace_id FROM config_versions WHERE config_id = $1) AS version_trace,
              (SELECT trace_id FROM audit_logs WHERE config_id = $1 AND event_type = 'ConfigurationCreated') AS audit_trace`,
      [configId],
    );
    expect(rows[0]).to.deep.equal({ version_trace: traceId, audit_trace: traceId });
  });
});
