/**
 * One HTTP delivery attempt: POST the signed body, with a deadline, through a DNS lookup that
 * refuses private addresses at connection time (see webhook-url-guard.ts).
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isPrivateAddress, parseWebhookUrl } from './webhook-url-guard.js';

export interface DeliveryAttempt {
  /** The receiver's status; undefined when no answer came (refused, timeout, DNS). */
  status?: number;
  latencyMs: number;
  /** Why the attempt failed: a non-2xx status or the network error. */
  error?: string;
}

const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, '', 0);
    const list = addresses as dns.LookupAddress[];
    const bad = list.find((a) => isPrivateAddress(a.address));
    if (bad) {
      const refused = Object.assign(
        new Error(`${hostname} resolves to private address ${bad.address}`),
        {
          code: 'EPRIVATEADDRESS',
        },
      );
      return callback(refused, '', 0);
    }
    if (options.all)
      return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
    callback(null, list[0]!.address, list[0]!.family);
  });
};

export function sendWebhook(
  rawUrl: string,
  body: string,
  headers: Record<string, string>,
  options: { allowPrivate: boolean; timeoutMs: number; userAgent: string },
): Promise<DeliveryAttempt> {
  const url = parseWebhookUrl(rawUrl);
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': options.userAgent,
        },
        timeout: options.timeoutMs,
        ...(options.allowPrivate ? {} : { lookup: guardedLookup }),
        // A fresh connection per attempt: no pooled socket outlives a DNS change.
        agent: false,
      },
      (res) => {
        res.resume(); // the answer's body is not needed; drain it so the socket closes
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          resolve(
            status >= 200 && status < 300
              ? { status, latencyMs: latency() }
              : { status, latencyMs: latency(), error: `answered ${status}` },
          );
        });
        res.on('error', (e) =>
          resolve({ status: res.statusCode, latencyMs: latency(), error: e.message }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', (e) => resolve({ latencyMs: latency(), error: e.message }));
    req.end(body);
  });
}
