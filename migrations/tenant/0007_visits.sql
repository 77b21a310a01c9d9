-- The consultation: visits (encounters), vitals, diagnoses, the problem list and amendments.
-- A signed visit is final: the database refuses to change it, its diagnoses or its vitals;
-- corrections are amendments, which are never changed either.

CREATE TABLE visits (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id     bigint NOT NULL REFERENCES patients (id),
    -- NULL for a visit started from the chart without an appointment.
    appointment_id bigint CONSTRAINT visits_appointment_key UNIQUE REFERENCES appointments (id),
    -- Who saw the patient.
    clinician_id   bigint NOT NULL REFERENCES users (id),
    started_at     timestamptz NOT NULL,
    complaint      text NOT NULL DEFAULT '' CHECK (length(complaint) <= 10000),
    history        text NOT NULL DEFAULT '' CHECK (length(history) <= 10000),
    examination    text NOT NULL DEFAULT '' CHECK (length(examination) <= 10000),
    assessment     text NOT NULL DEFAULT '' CHECK (length(assessment) <= 10000),
    plan           text NOT NULL DEFAULT '' CHECK (length(plan) <= 10000),
    follow_up_on   date,
    version        integer NOT NULL DEFAULT 1,
    updated_at     timestamptz NOT NULL,
    updated_by     bigint REFERENCES users (id),
    signed_at      timestamptz,
    signed_by      bigint REFERENCES users (id),
    CONSTRAINT visits_signed_together CHECK ((signed_at IS NULL) = (signed_by IS NULL))
);
CREATE INDEX visits_patient_idx ON visits (patient_id, started_at DESC);
CREATE INDEX visits_unsigned_idx ON visits (clinician_id, started_at) WHERE signed_at IS NULL;

CREATE FUNCTION visits_signed_is_final() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.signed_at IS NOT NULL THEN
        RAISE EXCEPTION 'visit % is signed and cannot change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER visits_signed_is_final BEFORE UPDATE OR DELETE ON visits
    FOR EACH ROW EXECUTE FUNCTION visits_signed_is_final();

-- Rows that belong to a visit (diagnoses, vitals) cannot be added to, changed in or removed
-- from a signed one.
CREATE FUNCTION visit_part_of_signed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    FOREACH v IN ARRAY ARRAY[
        CASE WHEN TG_OP <> 'INSERT' THEN OLD.visit_id END,
        CASE WHEN TG_OP <> 'DELETE' THEN NEW.visit_id END
    ] LOOP
        IF v IS NOT NULL AND EXISTS (SELECT 1 FROM visits WHERE id = v AND signed_at IS NOT NULL) THEN
            RAISE EXCEPTION 'visit % is signed and cannot change', v
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END LOOP;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- Measurements in fixed units: tenths of a degree Celsius, grams, millimetres, mg/dL.
-- The limits are the plausibility limits the application checks with a message first.
CREATE TABLE vitals (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id       bigint NOT NULL REFERENCES patients (id),
    -- Recorded at triage for an appointment, before its visit exists.
    appointment_id   bigint REFERENCES appointments (id),
    visit_id         bigint REFERENCES visits (id),
    taken_at         timestamptz NOT NULL,
    taken_by         bigint REFERENCES users (id),
    systolic         smallint CHECK (systolic BETWEEN 40 AND 300),
    diastolic        smallint CHECK (diastolic BETWEEN 20 AND 200),
    pulse            smallint CHECK (pulse BETWEEN 20 AND 300),
    temperature_dc   smallint CHECK (temperature_dc BETWEEN 250 AND 450),
    respiratory_rate smallint CHECK (respiratory_rate BETWEEN 4 AND 80),
    spo2             smallint CHECK (spo2 BETWEEN 50 AND 100),
    weight_g         integer CHECK (weight_g BETWEEN 300 AND 350000),
    height_mm        integer CHECK (height_mm BETWEEN 200 AND 2500),
    glucose_mg_dl    smallint CHECK (glucose_mg_dl BETWEEN 10 AND 1000),
    pain             smallint CHECK (pain BETWEEN 0 AND 10),
    note             text CHECK (length(note) <= 500),
    CONSTRAINT vitals_pressure_pair CHECK ((systolic IS NULL) = (diastolic IS NULL)),
    CONSTRAINT vitals_pressure_order CHECK (diastolic < systolic),
    CONSTRAINT vitals_something CHECK (num_nonnulls(systolic, pulse, temperature_dc,
        respiratory_rate, spo2, weight_g, height_mm, glucose_mg_dl, pain) > 0)
);
CREATE INDEX vitals_patient_idx ON vitals (patient_id, taken_at);
CREATE INDEX vitals_appointment_idx ON vitals (appointment_id) WHERE appointment_id IS NOT NULL;
CREATE INDEX vitals_visit_idx ON vitals (visit_id) WHERE visit_id IS NOT NULL;
CREATE TRIGGER vitals_of_signed_visit BEFORE INSERT OR UPDATE OR DELETE ON vitals
    FOR EACH ROW EXECUTE FUNCTION visit_part_of_signed();

CREATE TABLE visit_diagnoses (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_id    bigint NOT NULL REFERENCES visits (id),
    -- NULL for a free-text diagnosis.
    code_system text,
    code        text,
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    is_primary  boolean NOT NULL DEFAULT false,
    added_at    timestamptz NOT NULL,
    CONSTRAINT visit_diagnoses_coded CHECK ((code IS NULL) = (code_system IS NULL))
);
CREATE INDEX visit_diagnoses_visit_idx ON visit_diagnoses (visit_id);
CREATE UNIQUE INDEX visit_diagnoses_one_primary ON visit_diagnoses (visit_id) WHERE is_primary;
CREATE TRIGGER visit_diagnoses_of_signed_visit BEFORE INSERT OR UPDATE OR DELETE ON visit_diagnoses
    FOR EACH ROW EXECUTE FUNCTION visit_part_of_signed();

-- How often the clinic used each code, kept by a trigger: the code search ranks the clinic's
-- usual diagnoses first without counting its diagnoses on every keystroke.
CREATE TABLE code_usage (
    code_system text NOT NULL,
    code        text NOT NULL,
    uses        integer NOT NULL CHECK (uses >= 0),
    PRIMARY KEY (code_system, code)
);

CREATE FUNCTION visit_diagnoses_count_use() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.code IS NOT NULL THEN
        INSERT INTO code_usage (code_system, code, uses) VALUES (NEW.code_system, NEW.code, 1)
        ON CONFLICT (code_system, code) DO UPDATE SET uses = code_usage.uses + 1;
    ELSIF TG_OP = 'DELETE' AND OLD.code IS NOT NULL THEN
        UPDATE code_usage SET uses = greatest(uses - 1, 0)
         WHERE code_system = OLD.code_system AND code = OLD.code;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER visit_diagnoses_count_use AFTER INSERT OR DELETE ON visit_diagnoses
    FOR EACH ROW EXECUTE FUNCTION visit_diagnoses_count_use();

-- The trigger functions name the clinic's tables without a schema: pin their search path to
-- this clinic's schema, so that they work whoever fires them (a superuser's maintenance, a
-- restore), not only inside a clinic transaction.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION visit_part_of_signed() SET search_path = %I', current_schema());
    EXECUTE format('ALTER FUNCTION visit_diagnoses_count_use() SET search_path = %I', current_schema());
END
$$;

-- Chronic conditions, kept on the chart apart from any one visit's diagnoses.
CREATE TABLE problems (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id  bigint NOT NULL REFERENCES patients (id),
    code_system text,
    code        text,
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    noted_on    date NOT NULL,
    resolved_on date CHECK (resolved_on >= noted_on),
    added_by    bigint REFERENCES users (id),
    CONSTRAINT problems_coded CHECK ((code IS NULL) = (code_system IS NULL))
);
CREATE INDEX problems_patient_idx ON problems (patient_id);

-- Corrections to a signed visit: who, when, why, and the section's text as corrected. The
-- original stays in the visit; an amendment is never changed or removed.
CREATE TABLE visit_amendments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_id    bigint NOT NULL REFERENCES visits (id),
    section     text NOT NULL
                CHECK (section IN ('complaint', 'history', 'examination', 'assessment', 'plan')),
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    amended_by  bigint NOT NULL REFERENCES users (id),
    amended_at  timestamptz NOT NULL
);
CREATE INDEX visit_amendments_visit_idx ON visit_amendments (visit_id, amended_at);

CREATE FUNCTION visit_amendments_are_final() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'amendments cannot change' USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER visit_amendments_are_final BEFORE UPDATE OR DELETE ON visit_amendments
    FOR EACH ROW EXECUTE FUNCTION visit_amendments_are_final();
