-- Storage keeps signed records (hocba.records.signed). Owner: services/storage (all SQL
-- against these tables lives in services/storage/repository.py).
--
-- The signing service now decides the record id, the version and the lookup code; storage
-- inserts each version once, with status SIGNED, its PDF and its signatures, and never
-- changes it. What changes here, and why:
--
-- * lookup codes name a page (record id + school year), not a version: the signing service
--   keeps a page's code across its corrections, so the UNIQUE on record_versions.lookup_code
--   goes and a table lookup_codes maps each code to the one page it names;
-- * the same content may come back as a later version (a correction undone), so the UNIQUE
--   (record_id, school_year, content_sha256) goes: a version is (record_id, school_year,
--   version), the primary key, and re-deliveries are recognised by it;
-- * signed rows carry no validated_at (the SignedRecord does not), but their signatures and
--   correction reason; the PDF bytes must hash to pdf_sha256;
-- * rows are never updated any more (no VALIDATED → SIGNED fill in place);
-- * the audit trail names the new outcomes: late versions and refusals.
-- content_sha256 stays the SHA-256 of the canonical JSON of the year record: exactly the
-- SignedRecord's record_sha256, so no second column is needed.

-- One row per lookup code (mã số tra cứu học bạ): the page it names, for ever.
CREATE TABLE IF NOT EXISTS lookup_codes (
    lookup_code text        PRIMARY KEY,
    record_id   text        NOT NULL REFERENCES records (record_id),
    school_year text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- The target of the versions' foreign key: a version's code names the version's page.
    UNIQUE (lookup_code, record_id, school_year)
);
CREATE INDEX IF NOT EXISTS lookup_codes_page ON lookup_codes (record_id, school_year);

-- Codes filled in place under 0002 (one page each: lookup_code was UNIQUE).
INSERT INTO lookup_codes (lookup_code, record_id, school_year, created_at)
SELECT lookup_code, record_id, school_year, stored_at
FROM record_versions
WHERE lookup_code IS NOT NULL
ON CONFLICT DO NOTHING;

-- New codes only in canonical form (4 groups of 4 Crockford symbols, the check symbol).
ALTER TABLE lookup_codes DROP CONSTRAINT IF EXISTS lookup_codes_canonical;
ALTER TABLE lookup_codes ADD CONSTRAINT lookup_codes_canonical CHECK (lookup_code ~
    '^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z*~$=U]$'
) NOT VALID;

ALTER TABLE record_versions DROP CONSTRAINT IF EXISTS record_versions_lookup_code_key;
ALTER TABLE record_versions
    DROP CONSTRAINT IF EXISTS record_versions_record_id_school_year_content_sha256_key;
ALTER TABLE record_versions DROP CONSTRAINT IF EXISTS record_versions_lookup_code_page_fkey;
ALTER TABLE record_versions ADD CONSTRAINT record_versions_lookup_code_page_fkey
    FOREIGN KEY (lookup_code, record_id, school_year)
    REFERENCES lookup_codes (lookup_code, record_id, school_year);
-- (No index on record_versions.lookup_code: lookups go through lookup_codes to the page's
-- current version, and lookup_codes rows are never deleted.)

ALTER TABLE record_versions ADD COLUMN IF NOT EXISTS signatures jsonb;
ALTER TABLE record_versions ADD COLUMN IF NOT EXISTS correction_reason text;
ALTER TABLE record_versions ALTER COLUMN validated_at DROP NOT NULL;
ALTER TABLE record_versions ALTER COLUMN status DROP DEFAULT;
ALTER TABLE record_versions DROP CONSTRAINT IF EXISTS record_versions_validated_complete;
ALTER TABLE record_versions ADD CONSTRAINT record_versions_validated_complete
    CHECK (status <> 'VALIDATED' OR validated_at IS NOT NULL);
-- NOT VALID: rows signed in place under 0002 had no PDF bytes or signatures; new rows must.
ALTER TABLE record_versions DROP CONSTRAINT IF EXISTS record_versions_signed_complete;
ALTER TABLE record_versions ADD CONSTRAINT record_versions_signed_complete
    CHECK (status <> 'SIGNED' OR (pdf IS NOT NULL AND signatures IS NOT NULL)) NOT VALID;
-- What is stored is what was signed: the PDF bytes hash to pdf_sha256.
ALTER TABLE record_versions DROP CONSTRAINT IF EXISTS record_versions_pdf_sha256_matches;
ALTER TABLE record_versions ADD CONSTRAINT record_versions_pdf_sha256_matches
    CHECK (pdf IS NULL OR sha256(pdf) = pdf_sha256);

-- Append-only without exception: a version is inserted complete (SIGNED) and never changed;
-- a correction is the next version.
CREATE OR REPLACE FUNCTION record_versions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'record_versions is append-only: % % v% cannot be %',
        OLD.record_id, OLD.school_year, OLD.version, lower(TG_OP)
        USING ERRCODE = 'restrict_violation';
END
$$;

-- A student's record id and a page's lookup code are as permanent as the versions that
-- carry them (both are printed on signed PDFs).
CREATE OR REPLACE FUNCTION storage_mapping_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: rows cannot be %', TG_TABLE_NAME, lower(TG_OP)
        USING ERRCODE = 'restrict_violation';
END
$$;
DROP TRIGGER IF EXISTS lookup_codes_append_only ON lookup_codes;
CREATE TRIGGER lookup_codes_append_only BEFORE UPDATE OR DELETE ON lookup_codes
    FOR EACH ROW EXECUTE FUNCTION storage_mapping_append_only();
DROP TRIGGER IF EXISTS records_append_only ON records;
CREATE TRIGGER records_append_only BEFORE UPDATE OR DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION storage_mapping_append_only();

ALTER TABLE record_audit DROP CONSTRAINT IF EXISTS record_audit_action_check;
ALTER TABLE record_audit ADD CONSTRAINT record_audit_action_check CHECK (action IN (
    'VERSION_STORED', 'VERSION_SUPERSEDED', 'VERSION_STORED_LATE', 'REDELIVERY_IGNORED',
    'VERSION_CONFLICT_REFUSED', 'RECORD_ID_CONFLICT_REFUSED', 'LOOKUP_CODE_CONFLICT_REFUSED',
    'READ', 'READ_NOT_FOUND'));
