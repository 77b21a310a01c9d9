-- The clinic's audit log: append-only and tamper-evident.
--
-- * The clinic role keeps only SELECT and INSERT on it; triggers refuse UPDATE and TRUNCATE,
--   and DELETE except for retention pruning (see below).
-- * Each row carries sha256(previous row's hash || canonical content). The trigger assigns the
--   chain position (seq) and both hashes under an advisory lock, so concurrent writers chain
--   correctly and application code cannot get the hash wrong.

CREATE TABLE audit_log (
    seq           bigint PRIMARY KEY,
    at            timestamptz NOT NULL,
    actor_type    text NOT NULL CHECK (actor_type IN ('user', 'operator', 'system', 'anonymous')),
    actor_id      bigint,
    ip            inet,
    action        text NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
    resource_type text,
    resource_id   text,
    patient_id    bigint,
    outcome       text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id    text,
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, seq);
CREATE INDEX audit_log_patient_idx ON audit_log (patient_id, seq) WHERE patient_id IS NOT NULL;
CREATE INDEX audit_log_action_idx ON audit_log (action, seq);

-- The canonical content: a JSON array (jsonb text output is deterministic).
CREATE FUNCTION audit_row_hash(prev bytea, r audit_log) RETURNS bytea
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT sha256(prev || convert_to(jsonb_build_array(
        r.seq,
        to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        r.actor_type, r.actor_id, host(r.ip), r.action, r.resource_type, r.resource_id,
        r.patient_id, r.outcome, r.details, r.request_id
    )::text, 'UTF8'))
$$;

CREATE FUNCTION audit_log_chain() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    last_seq  bigint;
    last_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(TG_TABLE_SCHEMA || '.audit_log'));
    SELECT seq, hash INTO last_seq, last_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF last_seq IS NULL THEN
        -- Empty (or fully pruned) log: continue after the retention anchor, if any.
        SELECT coalesce(max(seq), 0) INTO last_seq FROM audit_log_anchor;
        SELECT hash INTO last_hash FROM audit_log_anchor ORDER BY seq DESC LIMIT 1;
    END IF;
    NEW.seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    NEW.hash := audit_row_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END
$$;

-- Retention pruning leaves the hash of the last removed row here, so the remaining chain still
-- verifies from its first row.
CREATE TABLE audit_log_anchor (
    seq       bigint PRIMARY KEY,
    hash      bytea NOT NULL,
    pruned_at timestamptz NOT NULL
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Retention: only rows older than a year, only inside a transaction that declared it.
    IF TG_OP = 'DELETE'
       AND current_setting('clinicbox.audit_prune', true) = 'on'
       AND OLD.at < now() - interval '1 year' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The clinic role (owner) keeps only SELECT and INSERT.
REVOKE ALL ON audit_log FROM CURRENT_USER;
GRANT SELECT, INSERT ON audit_log TO CURRENT_USER;
REVOKE ALL ON audit_log_anchor FROM CURRENT_USER;
GRANT SELECT ON audit_log_anchor TO CURRENT_USER;

-- Pruning is done by a separate role (<login role>_audit, created by the control migrations),
-- not by the clinic role.
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), session_user || '_audit');
    EXECUTE format('GRANT SELECT, DELETE ON audit_log TO %I', session_user || '_audit');
    EXECUTE format('GRANT SELECT, INSERT ON audit_log_anchor TO %I', session_user || '_audit');
END
$$;
