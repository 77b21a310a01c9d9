-- The clinic's audit log moves into its own schema, tenant_<slug>_audit, which belongs to the
-- auditor role the application cannot become (migrations/privileged/setup.sql). The clinic's
-- role keeps INSERT and SELECT there; every row comes along with its hash, so the earlier
-- chain stays verifiable up to this switch and the keyed chain continues from here.
DO $$
DECLARE
    auditor text := session_user || '_auditor';
    log     name := (current_schema() || '_audit')::name;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), auditor);
    EXECUTE format('GRANT SELECT ON audit_log, audit_log_anchor TO %I', auditor);
    PERFORM clinicbox_audit.create_log(log, current_user::name);
    PERFORM clinicbox_audit.adopt_legacy(log, current_schema()::name);
    EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM %I', current_schema(), auditor);
END
$$;

DROP TABLE audit_log_anchor;
DROP TRIGGER audit_log_chain ON audit_log;
DROP TRIGGER audit_log_no_change ON audit_log;
DROP TRIGGER audit_log_no_truncate ON audit_log;
DROP FUNCTION audit_log_chain();
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_log CASCADE;
