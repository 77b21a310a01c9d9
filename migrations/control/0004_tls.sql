-- HTTPS: the installation's ACME account, one certificate per hostname with its renewal state,
-- pending challenges (any node can answer them), and a log of orders, from which rate limits
-- and "why is this host still pending" are read.

-- One account per ACME directory: created once, reused at every start.
CREATE TABLE clinicbox.acme_account (
    directory_url   text PRIMARY KEY,
    contact         text,
    -- instant-acme's AccountCredentials (JSON, includes the account key), encrypted with the
    -- installation secret key.
    credentials_enc bytea NOT NULL,
    created_at      timestamptz NOT NULL
);

-- A row per hostname the renewal task has seen. The certificate columns stay empty until the
-- first certificate is issued; the host is served with a self-signed fallback meanwhile.
CREATE TABLE clinicbox.certificates (
    hostname        text PRIMARY KEY CHECK (hostname = lower(hostname) AND hostname <> ''),
    directory_url   text,
    chain_pem       text,
    key_enc         bytea,
    issuer          text,
    not_before      timestamptz,
    not_after       timestamptz,
    -- When to renew: from ACME Renewal Information, or once a third of the lifetime remains.
    renew_after     timestamptz,
    ari_next_check  timestamptz,
    issued_at       timestamptz,
    next_attempt_at timestamptz NOT NULL,
    failures        integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_attempt_at timestamptz,
    last_challenge  text,
    last_error      text,
    force_renew     boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT certificates_pair_check CHECK ((chain_pem IS NULL) = (key_enc IS NULL))
);

CREATE TABLE clinicbox.acme_challenges (
    token             text PRIMARY KEY,
    hostname          text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('http-01', 'tls-alpn-01')),
    key_authorization text NOT NULL,
    created_at        timestamptz NOT NULL
);
CREATE INDEX acme_challenges_host_idx ON clinicbox.acme_challenges (hostname);

CREATE TABLE clinicbox.acme_orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hostname    text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('issued', 'failed', 'deferred')),
    challenge   text,
    error       text
);
CREATE INDEX acme_orders_host_idx ON clinicbox.acme_orders (hostname, started_at DESC);

-- Wake every node's TLS task when hosts or certificates change (a clinic is added, another
-- node renewed a certificate, `clinicbox cert renew` asked for a new one).
CREATE FUNCTION clinicbox.notify_tls() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('clinicbox_tls', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER tenants_notify_tls AFTER INSERT OR UPDATE OF status OR DELETE ON clinicbox.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION clinicbox.notify_tls();
CREATE TRIGGER tenant_hostnames_notify_tls AFTER INSERT OR UPDATE OR DELETE ON clinicbox.tenant_hostnames
    FOR EACH STATEMENT EXECUTE FUNCTION clinicbox.notify_tls();
CREATE TRIGGER certificates_notify_tls AFTER INSERT OR UPDATE OF chain_pem, force_renew ON clinicbox.certificates
    FOR EACH STATEMENT EXECUTE FUNCTION clinicbox.notify_tls();
