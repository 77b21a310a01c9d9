-- Scheduling: clinic hours and holidays, providers' working hours and leave, appointment types,
-- and appointments. The database itself refuses overlapping appointments for one provider.

CREATE TABLE appointment_types (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text NOT NULL CONSTRAINT appointment_types_name_key UNIQUE
                     CHECK (length(name) BETWEEN 1 AND 80),
    duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    color            text NOT NULL DEFAULT '#1f6f8b' CHECK (color ~ '^#[0-9a-fA-F]{6}$'),
    active           boolean NOT NULL DEFAULT true
);

-- Weekday 1 = Monday … 7 = Sunday (ISO). Several rows per day give breaks.
CREATE TABLE clinic_hours (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    weekday smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    opens   time NOT NULL,
    closes  time NOT NULL CHECK (closes > opens)
);

CREATE TABLE clinic_holidays (
    day  date PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100)
);

CREATE TABLE provider_hours (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    weekday     smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    starts      time NOT NULL,
    ends        time NOT NULL CHECK (ends > starts)
);
CREATE INDEX provider_hours_provider_idx ON provider_hours (provider_id, weekday);

CREATE TABLE provider_absences (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    starts_on   date NOT NULL,
    ends_on     date NOT NULL CHECK (ends_on >= starts_on),
    reason      text CHECK (length(reason) <= 200)
);
CREATE INDEX provider_absences_provider_idx ON provider_absences (provider_id, starts_on);

CREATE TABLE appointments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id   bigint NOT NULL REFERENCES patients (id),
    -- NULL only for a walk-in waiting for whichever provider is free.
    provider_id  bigint REFERENCES users (id),
    type_id      bigint REFERENCES appointment_types (id),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
    status       text NOT NULL DEFAULT 'booked'
                 CHECK (status IN ('booked', 'arrived', 'in_consultation', 'completed', 'no_show', 'cancelled')),
    walk_in      boolean NOT NULL DEFAULT false,
    queue_number integer,
    reason       text CHECK (length(reason) <= 500),
    cancel_reason text CHECK (length(cancel_reason) <= 500),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    created_by   bigint,
    arrived_at   timestamptz,
    started_at   timestamptz,
    completed_at timestamptz,
    cancelled_at timestamptz,
    CONSTRAINT appointments_provider_required CHECK (walk_in OR provider_id IS NOT NULL),
    CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
        provider_id WITH =,
        tstzrange(starts_at, ends_at, '[)') WITH &&
    ) WHERE (status NOT IN ('cancelled', 'no_show') AND NOT walk_in)
);
CREATE INDEX appointments_starts_idx ON appointments (starts_at);
CREATE INDEX appointments_patient_idx ON appointments (patient_id, starts_at);
CREATE INDEX appointments_provider_idx ON appointments (provider_id, starts_at);

INSERT INTO settings (key, value) VALUES ('scheduling.slot_minutes', '15')
ON CONFLICT (key) DO NOTHING;
