-- The patient registry. Records are never deleted, only marked (deleted_at); MRNs are never reused.

CREATE SEQUENCE mrn_seq;

-- The next medical record number: the clinic's prefix and at least six digits. VOLATILE, so an
-- INSERT … SELECT of many rows draws a number per row.
CREATE FUNCTION next_mrn() RETURNS text
LANGUAGE sql VOLATILE SET search_path FROM CURRENT AS $$
    SELECT coalesce((SELECT value #>> '{}' FROM settings WHERE key = 'patients.mrn_prefix'), '')
           || lpad(n::text, greatest(6, length(n::text)), '0')
      FROM nextval('mrn_seq') AS n
$$;

CREATE TABLE patients (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mrn                  text NOT NULL CONSTRAINT patients_mrn_key UNIQUE,
    given_name           text NOT NULL CHECK (length(given_name) BETWEEN 1 AND 100),
    middle_name          text CHECK (length(middle_name) BETWEEN 1 AND 100),
    family_name          text NOT NULL CHECK (length(family_name) BETWEEN 1 AND 100),
    sex                  text NOT NULL CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    birth_date           date,
    birth_date_estimated boolean NOT NULL DEFAULT false,
    phones               jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(phones) = 'array'),
    -- The last 7 digits of each phone number: how reception searches by phone.
    phone_keys           text[] NOT NULL DEFAULT '{}',
    email                text,
    address              text,
    national_id          text,
    insurance_id         text,
    emergency_contact    jsonb,
    preferred_language   text,
    allergies            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(allergies) = 'array'),
    alerts               text,
    notes                text,
    -- Folded (lowercase, no accents) names in byte order: prefix searches are btree range scans.
    given_norm           text COLLATE "C" GENERATED ALWAYS AS (extensions.fold(given_name)) STORED,
    family_norm          text COLLATE "C" GENERATED ALWAYS AS (extensions.fold(family_name)) STORED,
    middle_norm          text COLLATE "C" GENERATED ALWAYS AS (coalesce(extensions.fold(middle_name), '')) STORED,
    name_tokens          text[] NOT NULL DEFAULT '{}',
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    created_by           bigint,
    updated_by           bigint,
    deleted_at           timestamptz
);

CREATE INDEX patients_given_family_idx ON patients (given_norm, family_norm) WHERE deleted_at IS NULL;
CREATE INDEX patients_family_given_idx ON patients (family_norm, given_norm) WHERE deleted_at IS NULL;
CREATE INDEX patients_birth_date_idx ON patients (birth_date) WHERE deleted_at IS NULL;
CREATE INDEX patients_phone_keys_idx ON patients USING gin (phone_keys) WHERE deleted_at IS NULL;
CREATE INDEX patients_name_tokens_idx ON patients USING gin (name_tokens) WHERE deleted_at IS NULL;

-- Every distinct name word, for spelling correction: a misspelt word is matched (pg_trgm) against
-- this small table, not against every patient.
CREATE TABLE name_words (
    word text COLLATE "C" PRIMARY KEY
);
CREATE INDEX name_words_trgm_idx ON name_words USING gin (word gin_trgm_ops);

-- name_tokens and name_words follow the names. Row-level BEFORE for the tokens; statement-level
-- AFTER (with a transition table) for the vocabulary, so a bulk import costs one upsert.
CREATE FUNCTION patients_tokens() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    NEW.name_tokens := ARRAY(
        SELECT DISTINCT w FROM regexp_split_to_table(
            extensions.fold(concat_ws(' ', NEW.given_name, NEW.middle_name, NEW.family_name)),
            '[[:space:],.''-]+') AS w
        WHERE w <> '');
    RETURN NEW;
END
$$;
CREATE TRIGGER patients_tokens BEFORE INSERT OR UPDATE OF given_name, middle_name, family_name
    ON patients FOR EACH ROW EXECUTE FUNCTION patients_tokens();

CREATE FUNCTION patients_name_words() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO name_words (word)
    SELECT DISTINCT unnest(name_tokens) FROM new_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER patients_name_words_ins AFTER INSERT ON patients
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION patients_name_words();
CREATE TRIGGER patients_name_words_upd AFTER UPDATE ON patients
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION patients_name_words();

INSERT INTO settings (key, value) VALUES ('patients.mrn_prefix', '"P"')
ON CONFLICT (key) DO NOTHING;
