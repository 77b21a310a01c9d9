-- End of day: the day's takings frozen. A closed day keeps the totals it had when it was
-- closed (`totals`, the day report as it stood), and the database refuses what would change
-- them afterwards: a payment received, an invoice or credit note issued, or an invoice
-- cancelled within the closed day's bounds. The closing row itself is never changed or
-- deleted.
CREATE TABLE day_closes (
    day       date PRIMARY KEY,
    -- The day's bounds in the clinic's time zone when it was closed.
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL,
    closed_at timestamptz NOT NULL,
    closed_by bigint REFERENCES users (id),
    totals    jsonb NOT NULL,
    note      text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    CONSTRAINT day_closes_bounds CHECK (ends_at > starts_at)
);
CREATE INDEX day_closes_bounds_idx ON day_closes (starts_at, ends_at);

CREATE TRIGGER day_closes_are_final BEFORE UPDATE OR DELETE ON day_closes
    FOR EACH ROW EXECUTE FUNCTION billing_rows_are_final();

-- Refuses a time that falls within a closed day, with SQLSTATE CB001 (the application shows
-- "this day is closed"). Everything is looked up in the trigger's own schema, whatever the
-- session's search path.
CREATE FUNCTION day_is_closed_check(s text, t timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    closed date;
BEGIN
    IF t IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('SELECT day FROM %I.day_closes WHERE starts_at <= $1 AND ends_at > $1', s)
        INTO closed USING t;
    IF closed IS NOT NULL THEN
        RAISE EXCEPTION 'day % is closed', closed USING ERRCODE = 'CB001';
    END IF;
END
$$;

CREATE FUNCTION payments_not_in_closed_day() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT %I.day_is_closed_check(%L, $1)', TG_TABLE_SCHEMA, TG_TABLE_SCHEMA)
        USING NEW.received_at;
    RETURN NEW;
END
$$;
CREATE TRIGGER payments_not_in_closed_day BEFORE INSERT ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_not_in_closed_day();

CREATE FUNCTION invoices_not_in_closed_day() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.issued_at IS DISTINCT FROM OLD.issued_at THEN
        EXECUTE format('SELECT %I.day_is_closed_check(%L, $1)', TG_TABLE_SCHEMA, TG_TABLE_SCHEMA)
            USING NEW.issued_at;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.cancelled_at IS DISTINCT FROM OLD.cancelled_at THEN
        EXECUTE format('SELECT %I.day_is_closed_check(%L, $1)', TG_TABLE_SCHEMA, TG_TABLE_SCHEMA)
            USING NEW.cancelled_at;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER invoices_not_in_closed_day BEFORE INSERT OR UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_not_in_closed_day();
