-- Documents on a patient's chart or a visit: PDFs and images whose type was checked from their
-- content. The file itself lives in the document store (`<data_dir>/documents/<slug>/`) under
-- `storage_key`; this row is what makes it reachable. Deleting is a soft delete: the row and
-- the file stay, the document is no longer listed or served.

CREATE TABLE documents (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id    bigint NOT NULL REFERENCES patients (id),
    visit_id      bigint REFERENCES visits (id),
    category      text NOT NULL CHECK (category IN ('lab', 'imaging', 'referral', 'photo',
                  'consent', 'prescription', 'other')),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    -- The type found in the content, not the one claimed by the name or the browser.
    media_type    text NOT NULL CHECK (media_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    -- The name the file had on the uploader's device (offered again on download).
    file_name     text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
    size_bytes    bigint NOT NULL CHECK (size_bytes > 0),
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    storage_key   text NOT NULL UNIQUE CHECK (storage_key ~ '^[0-9a-f-]{36}$'),
    -- A small JPEG for images (`<storage_key>.thumb.jpg`), NULL for PDFs.
    thumb_bytes   integer CHECK (thumb_bytes > 0),
    width         integer CHECK (width > 0),
    height        integer CHECK (height > 0),
    uploaded_by   bigint REFERENCES users (id),
    uploaded_at   timestamptz NOT NULL,
    deleted_at    timestamptz,
    deleted_by    bigint REFERENCES users (id),
    delete_reason text CHECK (length(delete_reason) <= 500),
    CONSTRAINT documents_deleted CHECK ((deleted_at IS NULL) = (delete_reason IS NULL))
);
CREATE INDEX documents_patient_idx ON documents (patient_id, uploaded_at DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX documents_visit_idx ON documents (visit_id) WHERE visit_id IS NOT NULL;
