/**
 * Trace context helpers on the OpenTelemetry API only (no SDK): with tracing off they cost next to
 * nothing, with it on (src/main/instrument.ts) they see the real spans.
 */
import { context, trace, type Link, type Span, type SpanContext } from '@opentelemetry/api';

export const tracer = () => trace.getTracer('config-service');

/** The active span's trace and span ids, if a real (sampled or not) span is active. */
export function activeSpanContext(): SpanContext | undefined {
  const ctx = trace.getSpan(context.active())?.spanContext();
  return ctx && trace.isSpanContextValid(ctx) ? ctx : undefined;
}

/** Links to the spans that caused these events (their metadata carries trace and span ids). */
export function linksTo(metadata: { traceId?: unknown; spanId?: unknown }[]): Link[] {
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const m of metadata) {
    if (typeof m.traceId !== 'string' || typeof m.spanId !== 'string') continue;
    const key = `${m.traceId}/${m.spanId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const spanContext = { traceId: m.traceId, spanId: m.spanId, traceFlags: 1, isRemote: true };
    if (trace.isSpanContextValid(spanContext)) links.push({ context: spanContext });
    if (links.length >= 64) break;
  }
  return links;
}

/** Runs `work` in a span (ended and marked failed on error). */
export async function inSpan<T>(
  name: string,
  options: { links?: Link[]; attributes?: Record<string, string | number> },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(name, options, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: 2 });
      throw error;
    } finally {
      span.end();
    }
  });
}
