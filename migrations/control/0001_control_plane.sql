-- Control plane: which clinics exist and how they are reached.
-- The schema itself and clinicbox.schema_migrations are created by the migration runner.

-- Trusted extensions (pg_trgm, unaccent, btree_gist) are installed here by later migrations;
-- every clinic role can use them, none can create objects in it.
CREATE SCHEMA IF NOT EXISTS extensions;
GRANT USAGE ON SCHEMA extensions TO PUBLIC;

CREATE TABLE clinicbox.tenants (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug           text NOT NULL CONSTRAINT tenants_slug_key UNIQUE
                   CONSTRAINT tenants_slug_check CHECK (slug ~ '^[a-z][a-z0-9-]{0,29}[a-z0-9]$'),
    display_name   text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    db_schema      text NOT NULL UNIQUE,
    db_role        text NOT NULL UNIQUE,
    schema_version bigint NOT NULL DEFAULT 0,
    branding       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    status_changed_at timestamptz
);

CREATE TABLE clinicbox.tenant_hostnames (
    hostname   text CONSTRAINT tenant_hostnames_pkey PRIMARY KEY
               CHECK (hostname = lower(hostname) AND hostname <> ''),
    tenant_id  bigint NOT NULL REFERENCES clinicbox.tenants (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_hostnames_tenant_idx ON clinicbox.tenant_hostnames (tenant_id);

-- Operator-editable runtime settings (branding defaults, backup schedule, HSTS…), one JSON value per key.
CREATE TABLE clinicbox.system_settings (
    key        text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]{0,63}$'),
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
