/**
 * Where the verifier reads the log from: a live PostgreSQL store (es_events with its hashes, and
 * what the store knows besides: where chaining began, each stream's head), or an export file.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type pg from 'pg';
import type { ChainEvent, EventSource, VerifyOptions } from './integrity.verifier.js';

const PAGE = 2000;

export function liveSource(pool: pg.Pool): EventSource {
  return async function* () {
    let after = '0';
    for (;;) {
      const { rows } = await pool.query<{
        position: string;
        stream_id: string;
        stream_revision: string;
        event_id: string;
        event_type: string;
        data: unknown;
        metadata: unknown;
        hash: string | null;
      }>(
        // (ORDER BY e.position: a bare `position` would sort by the text output column.)
        `SELECT position::text, stream_id, stream_revision::text, event_id, event_type, data,
                metadata, encode(hash, 'hex') AS hash
           FROM es_events e WHERE e.position > $1 ORDER BY e.position LIMIT $2`,
        [after, PAGE],
      );
      for (const r of rows) {
        yield {
          position: BigInt(r.position),
          streamId: r.stream_id,
          revision: BigInt(r.stream_revision),
          id: r.event_id,
          type: r.event_type,
          data: r.data,
          metadata: r.metadata,
          ...(r.hash ? { hash: r.hash } : {}),
        } satisfies ChainEvent;
      }
      if (rows.length < PAGE) return;
      after = rows.at(-1)!.position;
    }
  };
}

/** What the live store knows that the events alone do not say. */
export async function liveFacts(
  pool: pg.Pool,
): Promise<Pick<VerifyOptions, 'chainStartedAfter' | 'heads'>> {
  const chain = await pool.query<{ started_after: string }>(
    'SELECT started_after::text FROM es_chain WHERE id',
  );
  const streams = await pool.query<{ stream_id: string; revision: string }>(
    'SELECT stream_id, revision::text FROM es_streams',
  );
  return {
    chainStartedAfter: BigInt(chain.rows[0]?.started_after ?? '0'),
    heads: new Map(streams.rows.map((r) => [r.stream_id, BigInt(r.revision)])),
  };
}

/** An `events:export` NDJSON file (whole log or one tenant's part). */
export function fileSource(path: string): EventSource {
  return async function* () {
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    let n = 0;
    for await (const text of lines) {
      n += 1;
      if (text.trim() === '') continue;
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new Error(`${path}:${n}: not valid JSON`);
      }
      yield {
        position: BigInt(o.position as string),
        streamId: o.streamId as string,
        revision: BigInt(o.revision as string),
        id: o.id as string,
        type: o.type as string,
        data: o.data,
        metadata: o.metadata,
        ...(typeof o.hash === 'string' ? { hash: o.hash } : {}),
      } satisfies ChainEvent;
    }
  };
}
