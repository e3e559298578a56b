-- Up Migration
-- The PostgreSQL event store (the default adapter; KurrentDB is used instead when
-- ConnectionStrings__EventStore is set).
--
-- Global order: every append takes the single row of es_global FOR UPDATE, assigns the next
-- positions and commits while still holding it. So positions are gapless and assigned in commit
-- order: a reader that sees position N committed also sees every position below N. No reader can
-- skip an event that commits late, and no gap-skipping timeout is needed. The price is that
-- appends are serialised (one short statement each); see docs/architecture.md for the numbers.

CREATE TABLE es_events (
    position        BIGINT PRIMARY KEY,
    stream_id       TEXT NOT NULL,
    stream_revision BIGINT NOT NULL,
    event_id        UUID NOT NULL UNIQUE,
    event_type      TEXT NOT NULL,
    data            JSONB NOT NULL,
    metadata        JSONB NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (stream_id, stream_revision)
);

CREATE TABLE es_streams (
    stream_id TEXT PRIMARY KEY,
    revision  BIGINT NOT NULL
);

CREATE TABLE es_global (
    id       BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    position BIGINT NOT NULL
);
INSERT INTO es_global (id, position) VALUES (TRUE, 0);

-- requests: [{ "streamId": "...", "expected": "any"|"no_stream"|"stream_exists"|"<n>",
--              "events": [{ "id", "type", "data", "metadata" }] }]
-- Returns { "position": n, "streams": [{ "streamId", "revision" }] }.
-- Errors: SQLSTATE ES001 (wrong expected version, DETAIL = {"streamId","actual"}),
--         SQLSTATE ES002 (some but not all event ids were appended before).
CREATE FUNCTION es_append(requests JSONB) RETURNS JSONB
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

-- Down Migration
DROP FUNCTION es_append(JSONB);
DROP TABLE es_global;
DROP TABLE es_streams;
DROP TABLE es_events;
