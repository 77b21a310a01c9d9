-- Prescriptions: the clinic's drug list, a visit's prescribed items (final once the visit is
-- signed), each doctor's favourites and sets, and the prints of a prescription (a second print
-- is marked as a reprint).

-- What a prescription prints under the doctor's name.
ALTER TABLE users
    ADD COLUMN qualification   text CHECK (length(qualification) <= 200),
    ADD COLUMN registration_no text CHECK (length(registration_no) <= 100);

CREATE TABLE drugs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    generic_name text NOT NULL CHECK (length(generic_name) BETWEEN 1 AND 120),
    brand_names  text NOT NULL DEFAULT '' CHECK (length(brand_names) <= 300),
    strength     text NOT NULL DEFAULT '' CHECK (length(strength) <= 60),
    form         text NOT NULL CHECK (form IN ('tablet', 'capsule', 'syrup', 'suspension',
                 'drops', 'injection', 'cream', 'ointment', 'gel', 'inhaler', 'sachet', 'other')),
    -- The drug's class (e.g. "penicillin", "NSAID"): an allergy to the class warns too.
    drug_class   text NOT NULL DEFAULT '' CHECK (length(drug_class) <= 80),
    -- For liquids: the bottle's content, so that a quantity in millilitres becomes bottles.
    pack_ml      integer CHECK (pack_ml BETWEEN 1 AND 5000),
    active       boolean NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX drugs_name_key ON drugs (lower(generic_name), lower(strength), form);

CREATE TABLE prescription_items (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_id         bigint NOT NULL REFERENCES visits (id),
    -- NULL for a drug typed by hand (not in the clinic's list).
    drug_id          bigint REFERENCES drugs (id),
    -- The drug as prescribed ("Amoxicillin 500 mg capsule"): later edits of the list do not
    -- change a prescription.
    drug             text NOT NULL CHECK (length(drug) BETWEEN 1 AND 200),
    form             text NOT NULL,
    dose             text NOT NULL CHECK (length(dose) BETWEEN 1 AND 60),
    route            text NOT NULL CHECK (length(route) BETWEEN 1 AND 30),
    timing           text NOT NULL DEFAULT '' CHECK (timing IN ('', 'after_food', 'before_food',
                     'with_food', 'bedtime', 'empty_stomach')),
    days             smallint CHECK (days BETWEEN 1 AND 365),
    quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 100000),
    quantity_unit    text NOT NULL CHECK (length(quantity_unit) BETWEEN 1 AND 20),
    instructions     text NOT NULL DEFAULT '' CHECK (length(instructions) <= 300),
    -- Prescribed although it matched this recorded allergy (the doctor confirmed).
    allergy_override text CHECK (length(allergy_override) <= 200),
    added_at         timestamptz NOT NULL
);
CREATE INDEX prescription_items_visit_idx ON prescription_items (visit_id, id);
CREATE TRIGGER prescription_items_of_signed_visit
    BEFORE INSERT OR UPDATE OR DELETE ON prescription_items
    FOR EACH ROW EXECUTE FUNCTION visit_part_of_signed();

-- A doctor's favourites (one drug) and sets (several), applied to a visit in one click.
CREATE TABLE prescription_sets (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    created_at timestamptz NOT NULL,
    CONSTRAINT prescription_sets_name_key UNIQUE (owner_id, name)
);

CREATE TABLE prescription_set_items (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    set_id       bigint NOT NULL REFERENCES prescription_sets (id) ON DELETE CASCADE,
    drug_id      bigint REFERENCES drugs (id),
    drug         text NOT NULL CHECK (length(drug) BETWEEN 1 AND 200),
    form         text NOT NULL,
    dose         text NOT NULL CHECK (length(dose) BETWEEN 1 AND 60),
    route        text NOT NULL CHECK (length(route) BETWEEN 1 AND 30),
    timing       text NOT NULL DEFAULT '',
    days         smallint CHECK (days BETWEEN 1 AND 365),
    -- Only when typed by hand; otherwise computed again when the set is applied.
    quantity     integer CHECK (quantity BETWEEN 1 AND 100000),
    instructions text NOT NULL DEFAULT ''
);
CREATE INDEX prescription_set_items_set_idx ON prescription_set_items (set_id, id);

-- Every print of a visit's prescription: copy 1 is the original, later ones are reprints.
CREATE TABLE prescription_prints (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_id   bigint NOT NULL REFERENCES visits (id),
    copy       integer NOT NULL CHECK (copy >= 1),
    paper      text NOT NULL CHECK (paper IN ('a4', 'a5')),
    language   text NOT NULL,
    printed_at timestamptz NOT NULL,
    printed_by bigint REFERENCES users (id),
    CONSTRAINT prescription_prints_copy_key UNIQUE (visit_id, copy)
);
