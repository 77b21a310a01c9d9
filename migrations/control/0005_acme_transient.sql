-- Orders that met only transient trouble (rejected nonces, 5xx, reset connections) are logged
-- as such: they are retried soon and do not count against the CA's limit on failed validations.
ALTER TABLE clinicbox.acme_orders DROP CONSTRAINT acme_orders_outcome_check;
ALTER TABLE clinicbox.acme_orders ADD CONSTRAINT acme_orders_outcome_check
    CHECK (outcome IN ('issued', 'failed', 'deferred', 'transient'));
