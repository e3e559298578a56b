// Loaded with `node --import` before the application, so that HTTP, Express, pg and ioredis are
// instrumented as they load. Does nothing unless OpenTelemetry__JaegerEndpoint is set.
import { register } from 'node:module';
import { loadSettings } from '../core/settings/settings.js';

let settings;
try {
  settings = loadSettings();
} catch {
  // The process itself reports bad settings; tracing just stays off.
}
if (settings?.telemetry.jaegerEndpoint) {
  // ESM modules are patched through import-in-the-middle's loader hook.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const { startTracing, otlpTracesUrl } = await import('../core/observability/tracing.js');
  const { url, rewritten } = otlpTracesUrl(settings.telemetry.jaegerEndpoint);
  if (rewritten) {
    process.stderr.write(
      `OpenTelemetry__JaegerEndpoint ${settings.telemetry.jaegerEndpoint}: sending OTLP to ${url}\n`,
    );
  }
  const sdk = startTracing({
    endpoint: settings.telemetry.jaegerEndpoint,
    samplingRate: settings.telemetry.samplingRate,
    serviceName: process.env.OTEL_SERVICE_NAME ?? 'config-service',
    version: process.env.npm_package_version,
  });
  const stop = () => void sdk.shutdown().catch(() => undefined);
  process.once('beforeExit', stop);
}
