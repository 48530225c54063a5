-- Indexes for the reads of issue "Using the records". Owner: services/storage.
--
-- * POST /v1/verify finds the version an uploaded PDF is, by the PDF's SHA-256, else by the
--   SHA-256 of the record embedded in it (services/storage/standing.py);
-- * admission checks by national id read the student's grade-5 pages
--   (services/storage/admissions.py).
-- Plain CREATE INDEX (migrations run in a transaction): on a large table, an operator builds
-- these first with CREATE INDEX CONCURRENTLY under the same names, and this file then finds
-- them there.
CREATE INDEX IF NOT EXISTS record_versions_pdf_sha256 ON record_versions (pdf_sha256);
CREATE INDEX IF NOT EXISTS record_versions_content_sha256 ON record_versions (content_sha256);
CREATE INDEX IF NOT EXISTS record_versions_grade5_national_id ON record_versions (national_id)
    WHERE grade = 5;
