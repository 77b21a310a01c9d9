-- Billing: the price list, invoices and credit notes numbered without gaps per fiscal year,
-- payments and refunds with receipt numbers, advance deposits, cash-desk shifts and the
-- prints of each document. Amounts are whole minor units (paisa), tax rates basis points
-- (1300 = 13 %); docs/billing.md states the rounding rule.
--
-- An issued invoice is final: the database refuses to change its figures or lines and to
-- delete it. It is cancelled (with a reason) or credited by a credit note. Payments and their
-- allocations are never changed or deleted either; a refund is a payment of its own.

CREATE TABLE services (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code     text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$'),
    name     text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    category text NOT NULL DEFAULT '' CHECK (length(category) <= 60),
    price    bigint NOT NULL CHECK (price BETWEEN 0 AND 1000000000000),
    tax_bp   integer NOT NULL DEFAULT 0 CHECK (tax_bp BETWEEN 0 AND 10000),
    active   boolean NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX services_code_key ON services (lower(code));

-- What a visit of this type is billed by default.
ALTER TABLE appointment_types ADD COLUMN service_id bigint REFERENCES services (id);

-- The last number given per series and fiscal year. Taking a number updates the row, which
-- stays locked until the transaction ends: issuers queue here, and a rollback gives the
-- number back. `last_at` never goes back, so numbers are in date order.
CREATE TABLE number_series (
    series      text NOT NULL CHECK (series IN ('invoice', 'credit_note', 'receipt', 'refund')),
    fiscal_year text NOT NULL CHECK (fiscal_year ~ '^[0-9]{4}(/[0-9]{2})?$'),
    last_no     integer NOT NULL CHECK (last_no >= 1),
    last_at     timestamptz NOT NULL,
    PRIMARY KEY (series, fiscal_year)
);

-- A cashier's shift at the desk: opened with a float, closed by counting the cash.
CREATE TABLE cash_shifts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cashier_id    bigint NOT NULL REFERENCES users (id),
    opened_at     timestamptz NOT NULL,
    opening_float bigint NOT NULL CHECK (opening_float BETWEEN 0 AND 1000000000000),
    closed_at     timestamptz,
    -- Notes and coins counted: {"1000": 3, "500": 1, …} (denomination in major units).
    counted       jsonb,
    counted_cash  bigint CHECK (counted_cash >= 0),
    -- Float plus cash taken less cash refunded, as the payments say.
    expected_cash bigint,
    -- Who takes the drawer over.
    handed_to     bigint REFERENCES users (id),
    close_note    text CHECK (length(close_note) <= 500),
    CONSTRAINT cash_shifts_closed_together
        CHECK ((closed_at IS NULL) = (counted_cash IS NULL) AND (closed_at IS NULL) = (expected_cash IS NULL))
);
CREATE UNIQUE INDEX cash_shifts_one_open ON cash_shifts (cashier_id) WHERE closed_at IS NULL;
CREATE INDEX cash_shifts_opened_idx ON cash_shifts (opened_at);

CREATE TABLE invoices (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL DEFAULT 'invoice' CHECK (kind IN ('invoice', 'credit_note')),
    patient_id      bigint NOT NULL REFERENCES patients (id),
    visit_id        bigint REFERENCES visits (id),
    -- A credit note's invoice.
    credits_id      bigint REFERENCES invoices (id),
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'issued', 'cancelled')),
    fiscal_year     text,
    seq             integer CHECK (seq >= 1),
    number          text,
    -- The invoice's own discount, shared between its lines.
    discount        bigint NOT NULL DEFAULT 0 CHECK (discount BETWEEN 0 AND 1000000000000),
    discount_reason text NOT NULL DEFAULT '' CHECK (length(discount_reason) <= 200),
    -- A billing manager's approval of discounts up to this share of the invoice (basis
    -- points), for discounts above the clinic's limit.
    discount_approved_bp integer CHECK (discount_approved_bp BETWEEN 0 AND 10000),
    discount_approved_by bigint REFERENCES users (id),
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The figures, frozen when issued.
    gross           bigint,
    net             bigint,
    tax             bigint,
    total           bigint CHECK (total >= 0),
    created_at      timestamptz NOT NULL,
    created_by      bigint REFERENCES users (id),
    issued_at       timestamptz,
    issued_by       bigint REFERENCES users (id),
    cancelled_at    timestamptz,
    cancelled_by    bigint REFERENCES users (id),
    cancel_reason   text CHECK (length(cancel_reason) BETWEEN 1 AND 500),
    version         integer NOT NULL DEFAULT 1,
    CONSTRAINT invoices_number_key UNIQUE (kind, fiscal_year, seq),
    CONSTRAINT invoices_numbered_when_issued CHECK (
        (status = 'draft') = (seq IS NULL) AND (seq IS NULL) = (number IS NULL)
        AND (seq IS NULL) = (fiscal_year IS NULL) AND (seq IS NULL) = (issued_at IS NULL)
        AND (seq IS NULL) = (total IS NULL)),
    CONSTRAINT invoices_cancelled_with_reason CHECK (
        (status = 'cancelled') = (cancelled_at IS NOT NULL)
        AND (cancelled_at IS NULL) = (cancel_reason IS NULL)),
    CONSTRAINT invoices_credit_note_of CHECK ((kind = 'credit_note') = (credits_id IS NOT NULL))
);
CREATE INDEX invoices_patient_idx ON invoices (patient_id, created_at DESC);
CREATE INDEX invoices_issued_idx ON invoices (issued_at) WHERE issued_at IS NOT NULL;
CREATE INDEX invoices_drafts_idx ON invoices (created_at) WHERE status = 'draft';
CREATE INDEX invoices_credits_idx ON invoices (credits_id) WHERE credits_id IS NOT NULL;
-- One invoice per visit (a cancelled one can be replaced).
CREATE UNIQUE INDEX invoices_visit_key ON invoices (visit_id)
    WHERE visit_id IS NOT NULL AND kind = 'invoice' AND status <> 'cancelled';

CREATE TABLE invoice_lines (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id      bigint NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    service_id      bigint REFERENCES services (id),
    -- A credit note's line: the invoice line it credits (each one once).
    credits_line_id bigint CONSTRAINT invoice_lines_credited_once UNIQUE REFERENCES invoice_lines (id),
    -- Who provided it (revenue by clinician): the visit's clinician for a visit's lines.
    clinician_id    bigint REFERENCES users (id),
    -- The service as billed: later price-list changes do not change an invoice.
    code            text NOT NULL DEFAULT '' CHECK (length(code) <= 20),
    description     text NOT NULL CHECK (length(description) BETWEEN 1 AND 200),
    quantity        integer NOT NULL CHECK (quantity BETWEEN 1 AND 100000),
    unit_price      bigint NOT NULL CHECK (unit_price BETWEEN 0 AND 1000000000000),
    tax_bp          integer NOT NULL CHECK (tax_bp BETWEEN 0 AND 10000),
    discount        bigint NOT NULL DEFAULT 0 CHECK (discount >= 0),
    discount_reason text NOT NULL DEFAULT '' CHECK (length(discount_reason) <= 200),
    -- Frozen when issued, the invoice discount's share included.
    net             bigint,
    tax             bigint,
    total           bigint,
    added_at        timestamptz NOT NULL
);
CREATE INDEX invoice_lines_invoice_idx ON invoice_lines (invoice_id, id);

-- An issued invoice changes only by being cancelled; it is never deleted.
CREATE FUNCTION invoices_issued_is_final() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    moving constant text[] := ARRAY['status', 'cancelled_at', 'cancelled_by', 'cancel_reason', 'version'];
BEGIN
    IF OLD.status = 'draft' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = 'issued' AND NEW.status = 'cancelled' AND OLD.kind = 'invoice'
       AND (to_jsonb(NEW) - moving) = (to_jsonb(OLD) - moving) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'invoice % is issued and cannot change', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER invoices_issued_is_final BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_issued_is_final();

-- Lines of an issued invoice cannot be added, changed or removed. The invoice is looked up
-- in the trigger's own schema, whatever the session's search path.
CREATE FUNCTION invoice_lines_of_issued() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    i bigint;
    issued boolean;
BEGIN
    FOREACH i IN ARRAY ARRAY[
        CASE WHEN TG_OP <> 'INSERT' THEN OLD.invoice_id END,
        CASE WHEN TG_OP <> 'DELETE' THEN NEW.invoice_id END
    ] LOOP
        CONTINUE WHEN i IS NULL;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.invoices WHERE id = $1 AND status <> ''draft'')',
                       TG_TABLE_SCHEMA)
            INTO issued USING i;
        IF issued THEN
            RAISE EXCEPTION 'invoice % is issued and cannot change', i
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END LOOP;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER invoice_lines_of_issued BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION invoice_lines_of_issued();

-- Money received (a receipt) or paid back (a refund, of one receipt and by its method).
CREATE TABLE payments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('receipt', 'refund')),
    fiscal_year text NOT NULL,
    seq         integer NOT NULL CHECK (seq >= 1),
    number      text NOT NULL,
    patient_id  bigint NOT NULL REFERENCES patients (id),
    method      text NOT NULL CHECK (method IN ('cash', 'card', 'wallet', 'bank', 'insurance')),
    reference   text NOT NULL DEFAULT '' CHECK (length(reference) <= 100),
    amount      bigint NOT NULL CHECK (amount BETWEEN 1 AND 1000000000000),
    currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    refund_of   bigint REFERENCES payments (id),
    -- Why a refund was made (required for one).
    reason      text NOT NULL DEFAULT '' CHECK (length(reason) <= 300),
    shift_id    bigint REFERENCES cash_shifts (id),
    received_at timestamptz NOT NULL,
    received_by bigint REFERENCES users (id),
    CONSTRAINT payments_number_key UNIQUE (kind, fiscal_year, seq),
    CONSTRAINT payments_refund_of CHECK ((kind = 'refund') = (refund_of IS NOT NULL)),
    CONSTRAINT payments_refund_reason CHECK (kind = 'receipt' OR length(reason) >= 1)
);
CREATE INDEX payments_patient_idx ON payments (patient_id, received_at DESC);
CREATE INDEX payments_received_idx ON payments (received_at);
CREATE INDEX payments_shift_idx ON payments (shift_id) WHERE shift_id IS NOT NULL;
CREATE INDEX payments_refund_of_idx ON payments (refund_of) WHERE refund_of IS NOT NULL;

-- How much of a receipt pays which invoice. A receipt not (fully) allocated is a deposit,
-- applied to later invoices; a negative row gives an amount back to the receipt (its invoice
-- was cancelled or credited).
CREATE TABLE payment_allocations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id bigint NOT NULL REFERENCES payments (id),
    invoice_id bigint NOT NULL REFERENCES invoices (id),
    amount     bigint NOT NULL CHECK (amount <> 0),
    at         timestamptz NOT NULL,
    by_user    bigint REFERENCES users (id)
);
CREATE INDEX payment_allocations_invoice_idx ON payment_allocations (invoice_id);
CREATE INDEX payment_allocations_payment_idx ON payment_allocations (payment_id);

CREATE FUNCTION billing_rows_are_final() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are final', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER payments_are_final BEFORE UPDATE OR DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION billing_rows_are_final();
CREATE TRIGGER payment_allocations_are_final BEFORE UPDATE OR DELETE ON payment_allocations
    FOR EACH ROW EXECUTE FUNCTION billing_rows_are_final();

-- Every print of an invoice or a receipt: copy 1 is the original, later ones say
-- "COPY OF ORIGINAL".
CREATE TABLE billing_prints (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document   text NOT NULL CHECK (document IN ('invoice', 'payment')),
    doc_id     bigint NOT NULL,
    copy       integer NOT NULL CHECK (copy >= 1),
    paper      text NOT NULL CHECK (paper IN ('a4', 'a5', 'thermal')),
    printed_at timestamptz NOT NULL,
    printed_by bigint REFERENCES users (id),
    CONSTRAINT billing_prints_copy_key UNIQUE (document, doc_id, copy)
);
