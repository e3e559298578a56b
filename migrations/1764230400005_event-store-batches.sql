-- Up Migration
-- Several appends in one transaction (one commit, one WAL flush): the adapter batches appends
-- that arrive while the previous batch commits. Each append runs in its own subtransaction, so a
-- wrong expected version fails that append alone. Positions stay gapless and commit-ordered.
-- Returns one element per request: { "ok": <es_append result> } or
-- { "error": sqlstate, "message": text, "detail": text }.
CREATE FUNCTION es_append_many(batch JSONB) RETURNS JSONB
LANGUAGE plpgsql AS $$
DECLARE
    req     JSONB;
    results JSONB := '[]'::JSONB;
    state   TEXT;
    msg     TEXT;
    det     TEXT;
BEGIN
    FOR req IN SELECT * FROM jsonb_array_elements(batch) LOOP
        BEGIN
            results := results || jsonb_build_array(jsonb_build_object('ok', es_append(req)));
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                                    det = PG_EXCEPTION_DETAIL;
            results := results || jsonb_build_array(
                jsonb_build_object('error', state, 'message', msg, 'detail', det));
        END;
    END LOOP;
    RETURN results;
END;
$$;

-- Down Migration
DROP FUNCTION es_append_many(JSONB);
