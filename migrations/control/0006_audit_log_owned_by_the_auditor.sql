-- The installation's audit log moves into schema clinicbox_audit, which belongs to the auditor
-- role the application cannot become (migrations/privileged/setup.sql; `migrate` refuses to run
-- before that setup). Every row comes along with its hash: the earlier chain stays verifiable
-- up to this switch, and the keyed chain continues from here.
DO $$
DECLARE
    auditor text := current_user || '_auditor';
BEGIN
    PERFORM clinicbox_audit.create_log('clinicbox_audit', current_user);
    -- The auditor reads the list of clinics (a clinic's log is only dropped with its clinic)
    -- and, once, the old log.
    EXECUTE format('GRANT USAGE ON SCHEMA clinicbox TO %I', auditor);
    EXECUTE format('GRANT SELECT ON clinicbox.tenants, clinicbox.system_audit TO %I', auditor);
    PERFORM clinicbox_audit.adopt_legacy('clinicbox_audit', 'clinicbox');
END
$$;

DROP TRIGGER system_audit_chain ON clinicbox.system_audit;
DROP TRIGGER system_audit_no_change ON clinicbox.system_audit;
DROP TRIGGER system_audit_no_truncate ON clinicbox.system_audit;
DROP FUNCTION clinicbox.system_audit_chain();
DROP FUNCTION clinicbox.system_audit_append_only();
DROP TABLE clinicbox.system_audit CASCADE;
