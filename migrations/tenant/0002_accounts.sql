-- Clinic staff accounts, their MFA recovery codes and API tokens.

CREATE TABLE users (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email                text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    display_name         text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 120),
    role                 text NOT NULL
                         CHECK (role IN ('clinic_admin', 'doctor', 'nurse', 'receptionist', 'billing')),
    password_hash        text,
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    failed_logins        integer NOT NULL DEFAULT 0,
    locked_until         timestamptz,
    must_change_password boolean NOT NULL DEFAULT false,
    mfa_secret           bytea,        -- encrypted with the installation's secret key
    mfa_pending          bytea,        -- secret being enrolled, not yet confirmed
    mfa_last_step        bigint,       -- last accepted TOTP step: a code works once
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    last_login_at        timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE recovery_codes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    used_at    timestamptz
);
CREATE INDEX recovery_codes_account_idx ON recovery_codes (account_id);

CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash   bytea NOT NULL CONSTRAINT api_tokens_hash_key UNIQUE,
    prefix       text NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('read', 'read-write')),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

INSERT INTO settings (key, value) VALUES
    ('security.mfa_policy', '"optional"'),
    ('security.idle_minutes', '15'),
    ('security.session_hours', '12'),
    ('audit.retention_years', '7')
ON CONFLICT (key) DO NOTHING;
