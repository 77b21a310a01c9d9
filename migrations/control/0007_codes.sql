-- Shared reference code sets for diagnoses: ICD-10-CM ships with ClinicBox and is loaded by
-- `clinicbox migrate`; `clinicbox codes import` loads others (WHO ICD-10, ICD-11) for clinics
-- licensed to use them. Every clinic role may read them; none can write them.
CREATE TABLE extensions.code_systems (
    system    text PRIMARY KEY CHECK (system ~ '^[a-z0-9][a-z0-9._-]{0,31}$'),
    name      text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    codes     integer NOT NULL,
    loaded_at timestamptz NOT NULL
);

CREATE TABLE extensions.codes (
    system   text NOT NULL REFERENCES extensions.code_systems (system) ON DELETE CASCADE,
    code     text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9.-]{0,19}$'),
    title    text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    billable boolean NOT NULL DEFAULT true,
    -- The title's words, folded (case and accents), for prefix search ("dia mel").
    words    tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, extensions.fold(title))) STORED,
    PRIMARY KEY (system, code)
);
CREATE INDEX codes_words_idx ON extensions.codes USING gin (words);
-- Codes by prefix, dots ignored ("E11.9" and "E119" alike), as a byte-ordered range.
CREATE INDEX codes_prefix_idx ON extensions.codes (system, (replace(code, '.', '')) COLLATE "C");

GRANT SELECT ON extensions.code_systems, extensions.codes TO PUBLIC;
