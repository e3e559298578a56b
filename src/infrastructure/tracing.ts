/**
 * OpenTelemetry tracing: HTTP, Express, pg and ioredis spans exported over OTLP/HTTP to
 * `OpenTelemetry__JaegerEndpoint` (Jaeger's OTLP endpoint, e.g. http://jaeger:4318/v1/traces),
 * sampled at `OpenTelemetry__SamplingRate` (parent-based, so a sampled caller stays sampled).
 * Spans leave in batches from a background queue with a short export timeout: a missing
 * collector costs dropped spans, never request latency.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

export function startTracing(options: {
  endpoint: string;
  samplingRate: number;
  serviceName: string;
  version?: string;
}): NodeSDK {
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: options.version ?? '0.0.0',
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.samplingRate) }),
    spanProcessors: [
      new BatchSpanProcessor(
        new OTLPTraceExporter({ url: options.endpoint, timeoutMillis: 2000 }),
        {
          maxQueueSize: 4096,
          exportTimeoutMillis: 3000,
        },
      ),
    ],
    instrumentations: [
      new HttpInstrumentation({
        // Probes and scrapes would drown the traces.
        ignoreIncomingRequestHook: (req) => /^\/(health|metrics)/.test(req.url ?? ''),
      }),
      new ExpressInstrumentation(),
      new PgInstrumentation(),
      new IORedisInstrumentation(),
    ],
  });
  sdk.start();
  return sdk;
}
