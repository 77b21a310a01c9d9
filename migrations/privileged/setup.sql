-- ClinicBox database setup that needs a PostgreSQL superuser. The .deb runs it through the
-- postgres account on install and on every upgrade; for a database elsewhere,
-- `clinicbox database setup-sql` prints it for an administrator to run. Safe to run again.
--
-- @LOGIN@ is the application's login role (a validated identifier).
--
-- Why: the audit logs must belong to a role the application cannot become. On PostgreSQL 15 a
-- role with CREATEROLE can grant itself any non-superuser role, so the login role loses
-- CREATEROLE here and creates clinic roles through one narrow function instead. Two roles the
-- login role is no member of:
--   @LOGIN@_provisioner  CREATEROLE; owns clinicbox_priv.create_clinic_role/drop_clinic_role
--   @LOGIN@_auditor      owns every audit log (schema clinicbox_audit for the installation,
--                        tenant_<slug>_audit per clinic), the functions that append to,
--                        seal, prune and import them, and the log heads.
-- The application may INSERT and SELECT audit rows, and seal them (append to the chain, which
-- it keys with a secret PostgreSQL never sees); it can never update, delete or reorder them.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '@LOGIN@_auditor') THEN
        CREATE ROLE "@LOGIN@_auditor" NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '@LOGIN@_provisioner') THEN
        CREATE ROLE "@LOGIN@_provisioner" NOLOGIN NOINHERIT CREATEROLE;
    END IF;
    -- The role with which earlier releases pruned audit logs: control migration 0002 creates
    -- it and tenant migration 0003 grants it rights on the old logs (gone since migration
    -- 0006), so those migrations need it to exist and be the login role's to grant.
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '@LOGIN@_audit') THEN
        CREATE ROLE "@LOGIN@_audit" NOLOGIN NOINHERIT;
    END IF;
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE 'GRANT "@LOGIN@_audit" TO "@LOGIN@" WITH ADMIN OPTION, INHERIT FALSE, SET TRUE';
    ELSE
        EXECUTE 'GRANT "@LOGIN@_audit" TO "@LOGIN@" WITH ADMIN OPTION';
    END IF;
    EXECUTE format('GRANT CREATE ON DATABASE %I TO "@LOGIN@_auditor"', current_database());
    -- Clinic roles created by the login role itself (earlier releases): from PostgreSQL 16 on,
    -- dropping one needs ADMIN on it.
    IF current_setting('server_version_num')::int >= 160000
       AND to_regclass('clinicbox.tenants') IS NOT NULL THEN
        DECLARE r record;
        BEGIN
            FOR r IN EXECUTE 'SELECT db_role FROM clinicbox.tenants' LOOP
                EXECUTE format('GRANT %I TO "@LOGIN@_provisioner" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE', r.db_role);
            END LOOP;
        END;
    END IF;
END
$roles$;

ALTER ROLE "@LOGIN@" NOCREATEROLE;

-- ---------------------------------------------------------------------------------------
-- Clinic roles.
CREATE SCHEMA IF NOT EXISTS clinicbox_priv AUTHORIZATION "@LOGIN@_provisioner";
REVOKE ALL ON SCHEMA clinicbox_priv FROM PUBLIC;
GRANT USAGE ON SCHEMA clinicbox_priv TO "@LOGIN@";

SET ROLE "@LOGIN@_provisioner";

CREATE OR REPLACE FUNCTION clinicbox_priv.create_clinic_role(role_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_variable
BEGIN
    IF role_name !~ '^@LOGIN@_t_[a-z0-9_]{1,40}$' THEN
        RAISE EXCEPTION 'not a clinic role name: %', role_name USING ERRCODE = 'invalid_name';
    END IF;
    EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', role_name);
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE format('GRANT %I TO "@LOGIN@" WITH INHERIT FALSE, SET TRUE', role_name);
    ELSE
        EXECUTE format('GRANT %I TO "@LOGIN@"', role_name);
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION clinicbox_priv.drop_clinic_role(role_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_variable
BEGIN
    IF role_name !~ '^@LOGIN@_t_[a-z0-9_]{1,40}$' THEN
        RAISE EXCEPTION 'not a clinic role name: %', role_name USING ERRCODE = 'invalid_name';
    END IF;
    EXECUTE format('DROP ROLE IF EXISTS %I', role_name);
END
$fn$;

REVOKE ALL ON FUNCTION clinicbox_priv.create_clinic_role(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION clinicbox_priv.drop_clinic_role(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION clinicbox_priv.create_clinic_role(text) TO "@LOGIN@";
GRANT EXECUTE ON FUNCTION clinicbox_priv.drop_clinic_role(text) TO "@LOGIN@";

RESET ROLE;

-- ---------------------------------------------------------------------------------------
-- Audit logs.
CREATE SCHEMA IF NOT EXISTS clinicbox_audit AUTHORIZATION "@LOGIN@_auditor";
REVOKE ALL ON SCHEMA clinicbox_audit FROM PUBLIC;
GRANT USAGE ON SCHEMA clinicbox_audit TO PUBLIC;

SET ROLE "@LOGIN@_auditor";

CREATE TABLE IF NOT EXISTS clinicbox_audit.setup (
    version integer NOT NULL
);

-- The newest sealed position of every log, kept apart from the logs themselves: it only ever
-- moves forward, so rows removed from the end of a log (or a log emptied) show.
CREATE TABLE IF NOT EXISTS clinicbox_audit.heads (
    log        name PRIMARY KEY,
    writer     name NOT NULL,
    seq        bigint NOT NULL DEFAULT 0,
    hash       bytea NOT NULL DEFAULT '\x'::bytea,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Where an earlier release's chain resumed after retention pruning, per log.
CREATE TABLE IF NOT EXISTS clinicbox_audit.legacy_anchors (
    log  name PRIMARY KEY,
    seq  bigint NOT NULL,
    hash bytea NOT NULL
);
REVOKE ALL ON clinicbox_audit.setup, clinicbox_audit.heads, clinicbox_audit.legacy_anchors FROM PUBLIC;
GRANT SELECT ON clinicbox_audit.setup, clinicbox_audit.heads, clinicbox_audit.legacy_anchors TO PUBLIC;

-- Earlier releases' chain, for rows written before this design: sha256 of the previous hash
-- and a canonical JSON array of the row. Kept here, where nobody else can replace it.
CREATE OR REPLACE FUNCTION clinicbox_audit.legacy_hash(
    prev bytea, seq bigint, at timestamptz, actor_type text, actor_id bigint, ip inet,
    action text, resource_type text, resource_id text, patient_or_tenant bigint,
    outcome text, details jsonb, request_id text
) RETURNS bytea
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $fn$
    SELECT sha256(prev || convert_to(jsonb_build_array(
        seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        actor_type, actor_id, host(ip), action, resource_type, resource_id,
        patient_or_tenant, outcome, details, request_id
    )::text, 'UTF8'))
$fn$;
GRANT EXECUTE ON FUNCTION clinicbox_audit.legacy_hash(bytea, bigint, timestamptz, text, bigint, inet, text, text, text, bigint, text, jsonb, text) TO PUBLIC;

-- A log: `audit_log` (the rows), `audit_pending` (rows not yet in the chain), `audit_chain`
-- (the chain over the rows in the order they were sealed, keyed by the application with a
-- secret PostgreSQL never sees) and `audit_anchor` (where the chain resumes after retention pruning),
-- plus the functions its writer may call. `log_schema` is `clinicbox_audit` (the installation's
-- log, written by the login role) or `tenant_<slug>_audit` (written by that clinic's role,
-- which must own `tenant_<slug>`).
CREATE OR REPLACE FUNCTION clinicbox_audit.create_log(log_schema name, writer name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_variable
DECLARE
    ddl text;
BEGIN
    IF log_schema = 'clinicbox_audit' THEN
        IF writer <> '@LOGIN@' THEN
            RAISE EXCEPTION 'the installation log is written by @LOGIN@' USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF log_schema ~ '^tenant_[a-z0-9_]{1,40}_audit$' THEN
        IF writer !~ '^@LOGIN@_t_[a-z0-9_]{1,40}$' OR NOT EXISTS (
            SELECT 1 FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
             WHERE n.nspname = left(log_schema, -6) AND r.rolname = writer) THEN
            RAISE EXCEPTION '% does not own the clinic schema of %', writer, log_schema
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSE
        RAISE EXCEPTION 'not an audit log name: %', log_schema USING ERRCODE = 'invalid_name';
    END IF;
    IF EXISTS (SELECT 1 FROM clinicbox_audit.heads h WHERE h.log = log_schema AND h.writer <> writer) THEN
        RAISE EXCEPTION 'the log % belongs to another writer', log_schema USING ERRCODE = 'insufficient_privilege';
    END IF;

    ddl := $ddl$
    CREATE SCHEMA IF NOT EXISTS @S@;
    CREATE TABLE IF NOT EXISTS @S@.audit_log (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at            timestamptz NOT NULL,
        actor_type    text NOT NULL CHECK (actor_type IN ('user', 'operator', 'system', 'anonymous')),
        actor_id      bigint,
        ip            inet,
        action        text NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
        resource_type text,
        resource_id   text,
        patient_id    bigint,
        tenant_id     bigint,
        outcome       text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
        details       jsonb NOT NULL DEFAULT '{}'::jsonb,
        request_id    text,
        -- Rows of the earlier design keep their own chain (sha256, unkeyed) beside the new one.
        legacy_seq    bigint,
        legacy_prev   bytea,
        legacy_hash   bytea
    );
    CREATE INDEX IF NOT EXISTS audit_log_at_idx ON @S@.audit_log (at);
    CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON @S@.audit_log (actor_id, id);
    CREATE INDEX IF NOT EXISTS audit_log_patient_idx ON @S@.audit_log (patient_id, id) WHERE patient_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS audit_log_action_idx ON @S@.audit_log (action, id);
    CREATE TABLE IF NOT EXISTS @S@.audit_pending (row_id bigint PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS @S@.audit_chain (
        seq    bigint PRIMARY KEY,
        row_id bigint NOT NULL UNIQUE,
        prev   bytea NOT NULL,
        hash   bytea NOT NULL
    );
    CREATE TABLE IF NOT EXISTS @S@.audit_anchor (
        seq       bigint PRIMARY KEY,
        hash      bytea NOT NULL,
        pruned_at timestamptz NOT NULL
    );

    -- Every new row waits in audit_pending until the chain takes it.
    CREATE OR REPLACE FUNCTION @S@.audit_queue() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $q$
    #variable_conflict use_variable
    BEGIN
        INSERT INTO @S@.audit_pending (row_id) VALUES (NEW.id);
        RETURN NULL;
    END
    $q$;
    -- Nothing changes a row, removes one or empties a table — except pruning, below.
    CREATE OR REPLACE FUNCTION @S@.audit_refuse() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $q$
    #variable_conflict use_variable
    BEGIN
        IF TG_OP = 'DELETE' AND current_setting('clinicbox.audit_prune', true) = @S_LIT@ THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION '% of %.% refused: the audit log is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END
    $q$;
    DROP TRIGGER IF EXISTS audit_queue ON @S@.audit_log;
    CREATE TRIGGER audit_queue AFTER INSERT ON @S@.audit_log
        FOR EACH ROW EXECUTE FUNCTION @S@.audit_queue();
    DROP TRIGGER IF EXISTS audit_no_change ON @S@.audit_log;
    CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON @S@.audit_log
        FOR EACH ROW EXECUTE FUNCTION @S@.audit_refuse();
    DROP TRIGGER IF EXISTS audit_no_truncate ON @S@.audit_log;
    CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON @S@.audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION @S@.audit_refuse();
    DROP TRIGGER IF EXISTS chain_no_change ON @S@.audit_chain;
    CREATE TRIGGER chain_no_change BEFORE UPDATE OR DELETE ON @S@.audit_chain
        FOR EACH ROW EXECUTE FUNCTION @S@.audit_refuse();
    DROP TRIGGER IF EXISTS chain_no_truncate ON @S@.audit_chain;
    CREATE TRIGGER chain_no_truncate BEFORE TRUNCATE ON @S@.audit_chain
        FOR EACH STATEMENT EXECUTE FUNCTION @S@.audit_refuse();

    -- Appends rows to the chain: `first_seq` must follow the chain's end and `prev` be its
    -- hash, so two sealers cannot interleave. The hashes are the application's (keyed).
    CREATE OR REPLACE FUNCTION @S@.audit_seal(first_seq bigint, prev bytea, row_ids bigint[], hashes bytea[])
    RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $q$
    #variable_conflict use_variable
    #variable_conflict use_variable
    DECLARE
        end_seq  bigint;
        end_hash bytea;
        n        int := coalesce(array_length(row_ids, 1), 0);
    BEGIN
        IF n = 0 THEN RETURN; END IF;
        IF n <> coalesce(array_length(hashes, 1), 0) THEN
            RAISE EXCEPTION 'one hash per row';
        END IF;
        SELECT c.seq, c.hash INTO end_seq, end_hash FROM @S@.audit_chain c ORDER BY c.seq DESC LIMIT 1;
        IF end_seq IS NULL THEN
            SELECT a.seq, a.hash INTO end_seq, end_hash FROM @S@.audit_anchor a ORDER BY a.seq DESC LIMIT 1;
        END IF;
        IF coalesce(end_seq, 0) + 1 <> first_seq OR coalesce(end_hash, '\x'::bytea) <> prev THEN
            RAISE EXCEPTION 'the chain of % ends elsewhere (another sealer?)', @S_LIT@
                USING ERRCODE = 'serialization_failure';
        END IF;
        IF EXISTS (SELECT 1 FROM unnest(row_ids) r(id)
                    WHERE NOT EXISTS (SELECT 1 FROM @S@.audit_pending p WHERE p.row_id = r.id)) THEN
            RAISE EXCEPTION 'only pending rows can be sealed';
        END IF;
        INSERT INTO @S@.audit_chain (seq, row_id, prev, hash)
        SELECT first_seq + o - 1, r, coalesce(lag(h) OVER (ORDER BY o), prev), h
          FROM unnest(row_ids, hashes) WITH ORDINALITY AS t(r, h, o);
        DELETE FROM @S@.audit_pending WHERE row_id = ANY (row_ids);
        UPDATE clinicbox_audit.heads
           SET seq = first_seq + n - 1, hash = hashes[n], updated_at = now()
         WHERE log = @S_LIT@ AND seq < first_seq + n - 1;
    END
    $q$;

    -- Retention: removes the oldest rows — a prefix of the chain, none younger than a year —
    -- and keeps the last removed link as the anchor the chain resumes from. Returns rows gone.
    CREATE OR REPLACE FUNCTION @S@.audit_prune(cutoff timestamptz) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $q$
    #variable_conflict use_variable
    DECLARE
        limit_at timestamptz := least(cutoff, now() - interval '1 year');
        upto     bigint;
        upto_h   bytea;
        gone     bigint;
    BEGIN
        SELECT coalesce(min(c.seq), (SELECT max(seq) + 1 FROM @S@.audit_chain)) - 1 INTO upto
          FROM @S@.audit_chain c JOIN @S@.audit_log l ON l.id = c.row_id
         WHERE l.at >= limit_at;
        IF upto IS NULL OR upto < 1 THEN RETURN 0; END IF;
        SELECT hash INTO upto_h FROM @S@.audit_chain WHERE seq = upto;
        IF upto_h IS NULL THEN RETURN 0; END IF;
        PERFORM set_config('clinicbox.audit_prune', @S_LIT@, true);
        INSERT INTO @S@.audit_anchor (seq, hash, pruned_at) VALUES (upto, upto_h, now())
            ON CONFLICT (seq) DO NOTHING;
        DELETE FROM @S@.audit_log l USING @S@.audit_chain c WHERE c.row_id = l.id AND c.seq <= upto;
        GET DIAGNOSTICS gone = ROW_COUNT;
        DELETE FROM @S@.audit_chain WHERE seq <= upto;
        PERFORM set_config('clinicbox.audit_prune', '', true);
        RETURN gone;
    END
    $q$;

    -- Restores a log from a backup into this log, which must be empty: the rows, chain and
    -- anchors come from the caller's temporary tables audit_import_log/_chain/_anchor. What is
    -- imported is verified like any log (its MACs and chain need the installation's key).
    CREATE OR REPLACE FUNCTION @S@.audit_import(anchor_seq bigint, anchor_hash bytea) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $q$
    #variable_conflict use_variable
    DECLARE
        n bigint;
    BEGIN
        IF EXISTS (SELECT 1 FROM @S@.audit_log) OR EXISTS (SELECT 1 FROM @S@.audit_chain)
           OR EXISTS (SELECT 1 FROM @S@.audit_anchor) THEN
            RAISE EXCEPTION 'the log % is not empty: a backup is only imported into a new log', @S_LIT@
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO @S@.audit_log OVERRIDING SYSTEM VALUE
        SELECT id, at, actor_type, actor_id, ip, action, resource_type, resource_id, patient_id,
               tenant_id, outcome, details, request_id, legacy_seq, legacy_prev, legacy_hash
          FROM pg_temp.audit_import_log ORDER BY id;
        GET DIAGNOSTICS n = ROW_COUNT;
        INSERT INTO @S@.audit_chain SELECT seq, row_id, prev, hash FROM pg_temp.audit_import_chain;
        INSERT INTO @S@.audit_anchor SELECT seq, hash, pruned_at FROM pg_temp.audit_import_anchor;
        -- Imported rows are not pending: those the chain holds are sealed, the rest wait.
        DELETE FROM @S@.audit_pending p USING @S@.audit_chain c WHERE c.row_id = p.row_id;
        PERFORM setval(pg_get_serial_sequence(@S_LIT@ || '.audit_log', 'id'),
                       greatest((SELECT max(id) FROM @S@.audit_log), 1));
        UPDATE clinicbox_audit.heads h
           SET seq = c.seq, hash = c.hash, updated_at = now()
          FROM (SELECT seq, hash FROM @S@.audit_chain ORDER BY seq DESC LIMIT 1) c
         WHERE h.log = @S_LIT@ AND h.seq < c.seq;
        -- Where the earlier release's chain resumed, when the backup's log had pruned it.
        IF anchor_seq IS NOT NULL THEN
            INSERT INTO clinicbox_audit.legacy_anchors (log, seq, hash)
                VALUES (@S_LIT@, anchor_seq, anchor_hash) ON CONFLICT (log) DO NOTHING;
        END IF;
        RETURN n;
    END
    $q$;

    -- (Named one by one: the installation's log shares its schema with the heads.)
    REVOKE ALL ON @S@.audit_log, @S@.audit_pending, @S@.audit_chain, @S@.audit_anchor FROM PUBLIC;
    REVOKE ALL ON FUNCTION @S@.audit_queue(), @S@.audit_refuse(),
        @S@.audit_seal(bigint, bytea, bigint[], bytea[]), @S@.audit_prune(timestamptz),
        @S@.audit_import(bigint, bytea) FROM PUBLIC;
    $ddl$;
    -- Only the (validated) schema name is put into the text.
    ddl := replace(replace(ddl, '@S_LIT@', quote_literal(log_schema)), '@S@', quote_ident(log_schema));
    EXECUTE ddl;

    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', log_schema, writer);
    EXECUTE format('GRANT SELECT, INSERT ON %I.audit_log TO %I', log_schema, writer);
    -- pg_dump reads the identity sequence of what it dumps.
    EXECUTE format('GRANT SELECT ON SEQUENCE %I.audit_log_id_seq TO %I', log_schema, writer);
    EXECUTE format('GRANT SELECT ON %I.audit_pending, %I.audit_chain, %I.audit_anchor TO %I',
                   log_schema, log_schema, log_schema, writer);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %I.audit_seal(bigint, bytea, bigint[], bytea[]), %I.audit_prune(timestamptz), %I.audit_import(bigint, bytea) TO %I',
                   log_schema, log_schema, log_schema, writer);
    INSERT INTO clinicbox_audit.heads (log, writer) VALUES (log_schema, writer)
        ON CONFLICT (log) DO NOTHING;
END
$fn$;

-- Brings the rows of an earlier release's log (tenant_<slug>.audit_log or
-- clinicbox.system_audit) into the new log, keeping their positions and hashes, so that the old
-- chain stays verifiable up to the switch. Rows the log already has are skipped, and once the
-- log holds rows of its own nothing is added (a restored old backup of a clinic whose log
-- carried on meanwhile: the log as it is stays the record).
CREATE OR REPLACE FUNCTION clinicbox_audit.adopt_legacy(log_schema name, old_schema name) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_variable
DECLARE
    n     bigint := 0;
    newer boolean;
BEGIN
    IF NOT ((log_schema = 'clinicbox_audit' AND old_schema = 'clinicbox')
            OR (log_schema ~ '^tenant_[a-z0-9_]{1,40}_audit$' AND old_schema = left(log_schema, -6))) THEN
        RAISE EXCEPTION 'no earlier log for %', log_schema USING ERRCODE = 'invalid_name';
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.audit_log WHERE legacy_hash IS NULL)', log_schema)
        INTO STRICT newer;
    IF newer THEN
        RAISE NOTICE 'the log % has rows of its own: the earlier log is not added to it', log_schema;
        RETURN 0;
    END IF;
    IF old_schema = 'clinicbox' THEN
        EXECUTE format($q$
            INSERT INTO %1$I.audit_log (at, actor_type, actor_id, ip, action, resource_type, resource_id,
                                      tenant_id, outcome, details, request_id, legacy_seq, legacy_prev, legacy_hash)
            SELECT o.at, o.actor_type, o.actor_id, o.ip, o.action, o.resource_type, o.resource_id, o.tenant_id,
                   o.outcome, o.details, o.request_id, o.seq, o.prev_hash, o.hash
              FROM clinicbox.system_audit o
             WHERE NOT EXISTS (SELECT 1 FROM %1$I.audit_log l WHERE l.legacy_seq = o.seq AND l.legacy_hash = o.hash)
             ORDER BY o.seq$q$, log_schema);
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN n;
    END IF;
    EXECUTE format($q$
        INSERT INTO %1$I.audit_log (at, actor_type, actor_id, ip, action, resource_type, resource_id,
                                  patient_id, outcome, details, request_id, legacy_seq, legacy_prev, legacy_hash)
        SELECT o.at, o.actor_type, o.actor_id, o.ip, o.action, o.resource_type, o.resource_id, o.patient_id,
               o.outcome, o.details, o.request_id, o.seq, o.prev_hash, o.hash
          FROM %2$I.audit_log o
         WHERE NOT EXISTS (SELECT 1 FROM %1$I.audit_log l WHERE l.legacy_seq = o.seq AND l.legacy_hash = o.hash)
         ORDER BY o.seq$q$, log_schema, old_schema);
    GET DIAGNOSTICS n = ROW_COUNT;
    -- Retention had pruned the old chain: where it resumed is part of what is verified.
    EXECUTE format($q$INSERT INTO clinicbox_audit.legacy_anchors (log, seq, hash)
        SELECT %L, seq, hash FROM %I.audit_log_anchor ORDER BY seq DESC LIMIT 1
        ON CONFLICT (log) DO NOTHING$q$, log_schema, old_schema);
    RETURN n;
END
$fn$;

REVOKE ALL ON FUNCTION clinicbox_audit.create_log(name, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION clinicbox_audit.adopt_legacy(name, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION clinicbox_audit.create_log(name, name) TO PUBLIC;
GRANT EXECUTE ON FUNCTION clinicbox_audit.adopt_legacy(name, name) TO PUBLIC;

-- A clinic's log goes with the clinic: only once the clinic is gone from the control plane.
CREATE OR REPLACE FUNCTION clinicbox_audit.drop_log(log_schema name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
#variable_conflict use_variable
BEGIN
    IF log_schema !~ '^tenant_[a-z0-9_]{1,40}_audit$' THEN
        RAISE EXCEPTION 'not a clinic log: %', log_schema USING ERRCODE = 'invalid_name';
    END IF;
    IF to_regclass('clinicbox.tenants') IS NOT NULL AND EXISTS (
        SELECT 1 FROM clinicbox.tenants t WHERE t.db_schema = left(log_schema, -6)) THEN
        RAISE EXCEPTION 'the clinic of % still exists', log_schema USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('clinicbox.audit_prune', log_schema, true);
    EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', log_schema);
    DELETE FROM clinicbox_audit.heads WHERE log = log_schema;
END
$fn$;
REVOKE ALL ON FUNCTION clinicbox_audit.drop_log(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION clinicbox_audit.drop_log(name) TO "@LOGIN@";

DELETE FROM clinicbox_audit.setup;
INSERT INTO clinicbox_audit.setup (version) VALUES (1);

RESET ROLE;
