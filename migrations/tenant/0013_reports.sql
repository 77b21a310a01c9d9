-- Reports. What revenue is made of: the lines of issued invoices, counted in, and of issued
-- credit notes, counted out. A cancelled invoice counts nowhere (the cancellation report
-- lists it).
CREATE VIEW revenue_lines AS
SELECT l.id, l.invoice_id, i.kind, i.issued_at, l.service_id, l.clinician_id, l.code,
       l.description,
       k.sign * l.quantity AS quantity, k.sign * l.net AS net, k.sign * l.tax AS tax,
       k.sign * l.total AS total
  FROM invoice_lines l
  JOIN invoices i ON i.id = l.invoice_id
 CROSS JOIN LATERAL (SELECT CASE WHEN i.kind = 'credit_note' THEN -1 ELSE 1 END AS sign) k
 WHERE i.status = 'issued';

-- The cancellation report reads by when an invoice was cancelled.
CREATE INDEX invoices_cancelled_idx ON invoices (cancelled_at) WHERE cancelled_at IS NOT NULL;
-- The diagnoses report reads the signed visits of a range of days.
CREATE INDEX visits_signed_started_idx ON visits (started_at) WHERE signed_at IS NOT NULL;
