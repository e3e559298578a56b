import http from 'node:http';
import type { Metrics } from './metrics.js';

/** /metrics (and /health) for processes without an API: the projector and the worker. */
export function startMetricsServer(metrics: Metrics, port: number): http.Server {
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
  server.listen(port);
  return server;
}
