-- The clinic's logo (Settings → Profile and branding), checked by content before it is stored:
-- PNG, JPEG or an SVG without anything active. One row at most; the control plane's branding
-- names its version so that pages link it without reading here.
CREATE TABLE clinic_logo (
    only_one   boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    media_type text NOT NULL CHECK (media_type IN ('image/png', 'image/jpeg', 'image/svg+xml')),
    body       bytea NOT NULL CHECK (octet_length(body) BETWEEN 1 AND 524288),
    sha256     text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    updated_at timestamptz NOT NULL
);
