import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';
import type { Logger } from './logger.js';

/**
 * Where each process serves /metrics unless METRICS_PORT says otherwise: its own port, so that
 * the projector and the worker run side by side on one machine (the README's separate-process
 * start). In separate pods (Kubernetes, Compose) METRICS_PORT is set, 9464 for both.
 */
export const DEFAULT_METRICS_PORTS = { projector: 9464, worker: 9465 } as const;

/**
 * /metrics (and /health) for processes without an API: the projector and the worker. A port in
 * use never stops the process: it is logged, and the metrics move to a free port, also logged.
 */
export async function startMetricsServer(
  metrics: Metrics,
  port: number,
  logger: Logger,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
          res.end(body);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    } else if (req.url === '/health') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"status":"Healthy"}');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    await listen(port);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    logger.error(
      { port, code },
      `metrics port ${port} is not available (${code}); set METRICS_PORT to a free port`,
    );
    try {
      await listen(0);
    } catch (again) {
      logger.error({ err: again }, 'no port for /metrics; carrying on without it');
      return server;
    }
  }
  server.on('error', (err) => logger.error({ err }, 'metrics server error'));
  const actual = (server.address() as AddressInfo).port;
  logger.info({ port: actual }, `serving /metrics on port ${actual}`);
  return server;
}
