/**
 * Which side of a canary a client is on: pure and stable, so the same client gets the same side
 * of a deployment from every replica, and the hot read path needs no state to answer it.
 */

/** Which side of a canary a client is on: stable per (client, deployment), uniform over 0..9999. */
export function bucketOf(clientId: string, deploymentId: string): number {
  // FNV-1a, then murmur3's finaliser for an even spread of similar ids.
  let h = 0x811c9dc5;
  const s = `${clientId}\u0000${deploymentId}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % 10000;
}

/** A client is on the canary side while its bucket is below the share (so it never flips back). */
export const onCanary = (clientId: string, deploymentId: string, percentage: number) =>
  bucketOf(clientId, deploymentId) < percentage * 100;
