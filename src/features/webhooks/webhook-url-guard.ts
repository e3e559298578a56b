/**
 * Server-side request forgery guard: a webhook may not point into the service's own network
 * (loopback, private, link-local — e.g. the cloud metadata address 169.254.169.254 —, unique-local,
 * carrier-grade NAT, multicast, reserved) unless ConfigService__Webhooks__AllowPrivateNetworks
 * says so. Checked when a webhook is registered and again on every connection, against the
 * address actually dialled, so a DNS answer that changes after registration (rebinding) is
 * caught too.
 */
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['100::', 64],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::/96) address. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([\da-f]{1,4}):([\da-f]{1,4})$/.exec(lower);
  if (!hex) return undefined;
  const hi = parseInt(hex[1]!, 16);
  const lo = parseInt(hex[2]!, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true; // not an address at all: never dial it
  const v4 = embeddedIpv4(address);
  return v4 !== undefined ? blocked.check(v4, 'ipv4') : blocked.check(address, 'ipv6');
}

export class WebhookUrlError extends Error {
  override readonly name = 'WebhookUrlError';
}

/** Checks a webhook URL's form: http(s), a host, no credentials. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError('must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new WebhookUrlError('must use http:// or https://');
  }
  if (url.username || url.password) {
    throw new WebhookUrlError('must not carry credentials; the signature authenticates us');
  }
  return url;
}

/**
 * Resolves the URL's host and refuses it if any address is in a private range (unless allowed).
 * Used at registration, so that a bad URL is refused with a 400 instead of failing later. A host
 * that does not resolve is taken: deliveries check the address they connect to anyway.
 */
export async function checkWebhookUrl(raw: string, allowPrivate: boolean): Promise<URL> {
  const url = parseWebhookUrl(raw);
  if (allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    // Not resolvable from here (yet): accepted; every delivery checks the address it dials.
    return url;
  }
  const bad = addresses.find(isPrivateAddress);
  if (bad !== undefined) {
    throw new WebhookUrlError(
      `resolves to ${bad}, a loopback or private address (set ConfigService__Webhooks__AllowPrivateNetworks to allow)`,
    );
  }
  return url;
}
