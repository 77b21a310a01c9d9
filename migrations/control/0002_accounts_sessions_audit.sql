-- Operators (system console accounts), one-time setup links, sessions and the system audit log.

CREATE TABLE clinicbox.operators (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email                text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    display_name         text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 120),
    password_hash        text,
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    failed_logins        integer NOT NULL DEFAULT 0,
    locked_until         timestamptz,
    must_change_password boolean NOT NULL DEFAULT false,
    mfa_secret           bytea,
    mfa_pending          bytea,
    mfa_last_step        bigint,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    last_login_at        timestamptz
);
CREATE UNIQUE INDEX operators_email_key ON clinicbox.operators (email);

CREATE TABLE clinicbox.operator_recovery_codes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES clinicbox.operators (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    used_at    timestamptz
);
CREATE INDEX operator_recovery_codes_account_idx ON clinicbox.operator_recovery_codes (account_id);

-- The web installer: a link printed by `serve` while no operator exists. Single use, expires.
CREATE TABLE clinicbox.setup_tokens (
    token_hash bytea PRIMARY KEY,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- Browser sessions of staff (tenant_id set) and operators (tenant_id null). The account columns
-- let logout, password resets, role changes and disabling end every session of an account.
CREATE TABLE clinicbox.sessions (
    id         text PRIMARY KEY,
    tenant_id  bigint REFERENCES clinicbox.tenants (id) ON DELETE CASCADE,
    account_id bigint,
    data       jsonb NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_account_idx ON clinicbox.sessions (tenant_id, account_id)
    WHERE account_id IS NOT NULL;
CREATE INDEX sessions_expiry_idx ON clinicbox.sessions (expires_at);

-- The system audit log: operator and CLI actions. Same design as each clinic's audit_log.
CREATE TABLE clinicbox.system_audit (
    seq           bigint PRIMARY KEY,
    at            timestamptz NOT NULL,
    actor_type    text NOT NULL CHECK (actor_type IN ('operator', 'system', 'anonymous')),
    actor_id      bigint,
    ip            inet,
    action        text NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
    resource_type text,
    resource_id   text,
    tenant_id     bigint,
    outcome       text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id    text,
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL
);
CREATE INDEX system_audit_at_idx ON clinicbox.system_audit (at);

CREATE FUNCTION clinicbox.system_audit_hash(prev bytea, r clinicbox.system_audit) RETURNS bytea
LANGUAGE sql STABLE SET search_path = clinicbox, pg_catalog AS $$
    SELECT sha256(prev || convert_to(jsonb_build_array(
        r.seq,
        to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        r.actor_type, r.actor_id, host(r.ip), r.action, r.resource_type, r.resource_id,
        r.tenant_id, r.outcome, r.details, r.request_id
    )::text, 'UTF8'))
$$;

CREATE FUNCTION clinicbox.system_audit_chain() RETURNS trigger
LANGUAGE plpgsql SET search_path = clinicbox, pg_catalog AS $$
DECLARE
    last_seq  bigint;
    last_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('clinicbox.system_audit'));
    SELECT seq, hash INTO last_seq, last_hash FROM clinicbox.system_audit ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    NEW.hash := clinicbox.system_audit_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END
$$;

CREATE FUNCTION clinicbox.system_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'system_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER system_audit_chain BEFORE INSERT ON clinicbox.system_audit
    FOR EACH ROW EXECUTE FUNCTION clinicbox.system_audit_chain();
CREATE TRIGGER system_audit_no_change BEFORE UPDATE OR DELETE ON clinicbox.system_audit
    FOR EACH ROW EXECUTE FUNCTION clinicbox.system_audit_append_only();
CREATE TRIGGER system_audit_no_truncate BEFORE TRUNCATE ON clinicbox.system_audit
    FOR EACH STATEMENT EXECUTE FUNCTION clinicbox.system_audit_append_only();

REVOKE ALL ON clinicbox.system_audit FROM CURRENT_USER;
GRANT SELECT, INSERT ON clinicbox.system_audit TO CURRENT_USER;

-- The role that prunes clinic audit logs after their retention period (see tenant migration
-- 0003). The login role may switch to it but does not inherit it.
DO $$
DECLARE
    pruner text := session_user || '_audit';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = pruner) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', pruner);
    END IF;
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE format('GRANT %I TO %I WITH INHERIT FALSE, SET TRUE', pruner, session_user);
    ELSE
        EXECUTE format('GRANT %I TO %I', pruner, session_user);
    END IF;
END
$$;
