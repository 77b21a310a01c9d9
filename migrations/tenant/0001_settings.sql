-- Runs as the clinic's role with search_path = tenant_<slug>: objects land in the clinic's schema.

-- Clinic settings edited by its admins (time zone, language, session timeout…), one JSON value per key.
CREATE TABLE settings (
    key        text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]{0,63}$'),
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO settings (key, value) VALUES
    ('timezone', '"UTC"'),
    ('language', '"en"');
