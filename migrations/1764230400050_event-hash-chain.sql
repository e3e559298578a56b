-- Up Migration
-- Hash chain over the log (src/core/event-store/chain.ts defines it; docs/architecture.md):
-- every event appended from now on stores
--   hash = sha256(prev ‖ utf8(stream_id) ‖ 0x00 ‖ int64be(stream_revision) ‖ digest)
-- where digest is the SHA-256 of the event's canonical content, computed by the adapter, and
-- prev is the stream's previous hash (32 zero bytes for its first chained event). The link is
-- computed here because only the append knows the previous event for certain.
--
-- Events already stored are not chained: es_chain records the position after which chaining
-- began, and the verifier starts there. es_streams.tenant_id (from the events' data.tenantId, or
-- the tenant stream's name) lets a tenant's signed checkpoint find its stream heads.

ALTER TABLE es_events ADD COLUMN hash BYTEA;
ALTER TABLE es_streams ADD COLUMN head_hash BYTEA;
ALTER TABLE es_streams ADD COLUMN tenant_id TEXT;

CREATE TABLE es_chain (
    id            BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    started_after BIGINT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO es_chain (id, started_after) SELECT TRUE, position FROM es_global;

UPDATE es_streams s
   SET tenant_id = COALESCE(
         (SELECT e.data->>'tenantId' FROM es_events e
           WHERE e.stream_id = s.stream_id AND e.data ? 'tenantId'
           ORDER BY e.stream_revision LIMIT 1),
         CASE WHEN s.stream_id LIKE 'tenant-%' THEN substr(s.stream_id, 8) END);
CREATE INDEX es_streams_tenant ON es_streams (tenant_id);

CREATE OR REPLACE FUNCTION es_append(requests JSONB) RETURNS JSONB
LANGUAGE plpgsql AS $$
DECLARE
    req        JSONB;
    ev         JSONB;
    sid        TEXT;
    expected   TEXT;
    current    BIGINT;
    prev       BYTEA;
    h          BYTEA;
    tenant     TEXT;
    pos        BIGINT;
    ids        UUID[];
    found      INT;
    result     JSONB := '[]'::JSONB;
BEGIN
    SELECT array_agg((e->>'id')::UUID) INTO ids
      FROM jsonb_array_elements(requests) r, jsonb_array_elements(r->'events') e;

    -- Serialise appends; held until commit (see migration 1764230400001).
    SELECT g.position INTO pos FROM es_global g WHERE g.id FOR UPDATE;

    -- Idempotent retry: every event id already stored in the stream it was meant for.
    SELECT count(*) INTO found FROM es_events WHERE event_id = ANY(ids);
    IF found > 0 THEN
        IF found = cardinality(ids) AND NOT EXISTS (
            SELECT 1
              FROM jsonb_array_elements(requests) r, jsonb_array_elements(r->'events') e
              JOIN es_events x ON x.event_id = (e->>'id')::UUID
             WHERE x.stream_id <> r->>'streamId')
        THEN
            SELECT jsonb_build_object(
                       'position', max(x.position),
                       'streams', (SELECT jsonb_agg(jsonb_build_object(
                                        'streamId', s.stream_id, 'revision', s.revision))
                                     FROM es_streams s
                                    WHERE s.stream_id IN (SELECT r->>'streamId'
                                                            FROM jsonb_array_elements(requests) r)),
                       'idempotent', TRUE)
              INTO result
              FROM es_events x WHERE x.event_id = ANY(ids);
            RETURN result;
        END IF;
        RAISE EXCEPTION 'some event ids of this append were already appended'
            USING ERRCODE = 'ES002';
    END IF;

    FOR req IN SELECT * FROM jsonb_array_elements(requests) LOOP
        sid := req->>'streamId';
        expected := req->>'expected';
        current := NULL;
        prev := NULL;
        tenant := NULL;
        SELECT s.revision, s.head_hash, s.tenant_id INTO current, prev, tenant
          FROM es_streams s WHERE s.stream_id = sid;
        current := COALESCE(current, -1);
        IF (expected = 'no_stream' AND current <> -1)
           OR (expected = 'stream_exists' AND current = -1)
           OR (expected NOT IN ('any', 'no_stream', 'stream_exists')
               AND current <> expected::BIGINT) THEN
            RAISE EXCEPTION 'wrong expected version on stream %', sid
                USING ERRCODE = 'ES001',
                      DETAIL = jsonb_build_object('streamId', sid, 'actual', current)::TEXT;
        END IF;
        FOR ev IN SELECT * FROM jsonb_array_elements(req->'events') LOOP
            pos := pos + 1;
            current := current + 1;
            -- Without a digest (a caller that does not hash) the event is stored unchained,
            -- which the verifier reports as a break.
            IF ev ? 'digest' THEN
                h := sha256(COALESCE(prev, '\x0000000000000000000000000000000000000000000000000000000000000000'::BYTEA)
                            || convert_to(sid, 'UTF8') || '\x00'::BYTEA || int8send(current)
                            || decode(ev->>'digest', 'hex'));
                prev := h;
            ELSE
                h := NULL;
            END IF;
            tenant := COALESCE(tenant, ev->'data'->>'tenantId',
                               CASE WHEN sid LIKE 'tenant-%' THEN substr(sid, 8) END);
            INSERT INTO es_events (position, stream_id, stream_revision, event_id, event_type,
                                   data, metadata, hash)
            VALUES (pos, sid, current, (ev->>'id')::UUID, ev->>'type', ev->'data',
                    ev->'metadata', h);
        END LOOP;
        INSERT INTO es_streams (stream_id, revision, head_hash, tenant_id)
            VALUES (sid, current, prev, tenant)
            ON CONFLICT (stream_id) DO UPDATE
               SET revision = EXCLUDED.revision, head_hash = EXCLUDED.head_hash,
                   tenant_id = EXCLUDED.tenant_id;
        result := result || jsonb_build_array(jsonb_build_object('streamId', sid,
                                                                 'revision', current));
    END LOOP;

    UPDATE es_global SET position = pos WHERE id;
    -- Delivered at commit; subscribers poll as well, so a lost notification only costs latency.
    PERFORM pg_notify('es_events', pos::TEXT);
    RETURN jsonb_build_object('position', pos, 'streams', result);
END;
$$;

-- Down Migration
DROP INDEX es_streams_tenant;
ALTER TABLE es_streams DROP COLUMN tenant_id;
ALTER TABLE es_streams DROP COLUMN head_hash;
ALTER TABLE es_events DROP COLUMN hash;
DROP TABLE es_chain;
-- The unchained es_append of migration 1764230400001.
CREATE OR REPLACE FUNCTION es_append(requests JSONB) RETURNS JSONB
LANGUAGE plpgsql AS $$
DECLARE
    req        JSONB;
    ev         JSONB;
    sid        TEXT;
    expected   TEXT;
    current    BIGINT;
    pos        BIGINT;
    ids        UUID[];
    found      INT;
    result     JSONB := '[]'::JSONB;
BEGIN
    SELECT array_agg((e->>'id')::UUID) INTO ids
      FROM jsonb_array_elements(requests) r, jsonb_array_elements(r->'events') e;

    -- Serialise appends; held until commit (see above).
    SELECT g.position INTO pos FROM es_global g WHERE g.id FOR UPDATE;

    -- Idempotent retry: every event id already stored in the stream it was meant for.
    SELECT count(*) INTO found FROM es_events WHERE event_id = ANY(ids);
    IF found > 0 THEN
        IF found = cardinality(ids) AND NOT EXISTS (
            SELECT 1
              FROM jsonb_array_elements(requests) r, jsonb_array_elements(r->'events') e
              JOIN es_events x ON x.event_id = (e->>'id')::UUID
             WHERE x.stream_id <> r->>'streamId')
        THEN
            SELECT jsonb_build_object(
                       'position', max(x.position),
                       'streams', (SELECT jsonb_agg(jsonb_build_object(
                                        'streamId', s.stream_id, 'revision', s.revision))
                                     FROM es_streams s
                                    WHERE s.stream_id IN (SELECT r->>'streamId'
                                                            FROM jsonb_array_elements(requests) r)),
                       'idempotent', TRUE)
              INTO result
              FROM es_events x WHERE x.event_id = ANY(ids);
            RETURN result;
        END IF;
        RAISE EXCEPTION 'some event ids of this append were already appended'
            USING ERRCODE = 'ES002';
    END IF;

    FOR req IN SELECT * FROM jsonb_array_elements(requests) LOOP
        sid := req->>'streamId';
        expected := req->>'expected';
        SELECT s.revision INTO current FROM es_streams s WHERE s.stream_id = sid;
        current := COALESCE(current, -1);
        IF (expected = 'no_stream' AND current <> -1)
           OR (expected = 'stream_exists' AND current = -1)
           OR (expected NOT IN ('any', 'no_stream', 'stream_exists')
               AND current <> expected::BIGINT) THEN
            RAISE EXCEPTION 'wrong expected version on stream %', sid
                USING ERRCODE = 'ES001',
                      DETAIL = jsonb_build_object('streamId', sid, 'actual', current)::TEXT;
        END IF;
        FOR ev IN SELECT * FROM jsonb_array_elements(req->'events') LOOP
            pos := pos + 1;
            current := current + 1;
            INSERT INTO es_events (position, stream_id, stream_revision, event_id, event_type,
                                   data, metadata)
            VALUES (pos, sid, current, (ev->>'id')::UUID, ev->>'type', ev->'data',
                    ev->'metadata');
        END LOOP;
        INSERT INTO es_streams (stream_id, revision) VALUES (sid, current)
            ON CONFLICT (stream_id) DO UPDATE SET revision = EXCLUDED.revision;
        result := result || jsonb_build_array(jsonb_build_object('streamId', sid,
                                                                 'revision', current));
    END LOOP;

    UPDATE es_global SET position = pos WHERE id;
    -- Delivered at commit; subscribers poll as well, so a lost notification only costs latency.
    PERFORM pg_notify('es_events', pos::TEXT);
    RETURN jsonb_build_object('position', pos, 'streams', result);
END;
$$;
