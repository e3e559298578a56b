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

/**
 * The OTLP/HTTP traces URL for a configured endpoint. The deployment guide's value is Jaeger's
 * legacy collector (`http://jaeger:14268/api/traces`, Thrift), which cannot take OTLP: it becomes
 * the same host's OTLP receiver (`:4318/v1/traces`). A bare `http://host:4318` gets the path.
 */
export function otlpTracesUrl(endpoint: string): { url: string; rewritten: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch {
    return { url: endpoint, rewritten: false };
  }
  if (parsed.pathname.replace(/\/+$/, '') === '/api/traces') {
    parsed.port = '4318';
    parsed.pathname = '/v1/traces';
    return { url: parsed.toString(), rewritten: true };
  }
  if (parsed.pathname === '/' || parsed.pathname === '') {
    parsed.pathname = '/v1/traces';
    return { url: parsed.toString(), rewritten: true };
  }
  return { url: endpoint, rewritten: false };
}

/** Query parameters whose values never reach a span: credentials (the library's list, and ours). */
export const REDACTED_QUERY_PARAMS = [
  'access_token',
  'token',
  'sig',
  'Signature',
  'AWSAccessKeyId',
  'X-Goog-Signature',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
] as const;

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
        new OTLPTraceExporter({ url: otlpTracesUrl(options.endpoint).url, timeoutMillis: 2000 }),
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
        // The dashboard is opened with a platform admin's token in the URL: never into a trace.
        redactedQueryParamsServer: [...REDACTED_QUERY_PARAMS],
        redactedQueryParams: [...REDACTED_QUERY_PARAMS],
      }),
      new ExpressInstrumentation(),
      new PgInstrumentation(),
      new IORedisInstrumentation(),
    ],
  });
  sdk.start();
  return sdk;
}
