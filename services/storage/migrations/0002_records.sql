-- Storage: the học bạ records (hồ sơ học bạ), their append-only versions, the current
-- version of each school year, and the audit trail. Owner: services/storage (all SQL
-- against these tables lives in services/storage/repository.py).

-- One row per student: the stable record identifier, created on first sight and kept
-- across school years and versions. 'HB' + 16 Crockford base32 characters (80 random bits).
CREATE TABLE IF NOT EXISTS records (
    record_id  text        PRIMARY KEY CHECK (record_id ~ '^HB[0-9A-HJKMNP-TV-Z]{16}$'),
    student_id text        NOT NULL UNIQUE CHECK (student_id <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every version of every school-year page, never updated in place (see the trigger below):
-- a correction is the next version, naming the one it supersedes. The same content for the
-- same student-year is stored once (UNIQUE content_sha256): a re-delivery is a no-op.
CREATE TABLE IF NOT EXISTS record_versions (
    record_id          text        NOT NULL REFERENCES records (record_id),
    school_year        text        NOT NULL CHECK (school_year ~ '^[0-9]{4}-[0-9]{4}$'),
    version            integer     NOT NULL CHECK (version >= 1),
    record_key         text        NOT NULL,
    school_code        text        NOT NULL,
    student_id         text        NOT NULL,
    national_id        text,
    grade              smallint    NOT NULL CHECK (grade BETWEEN 1 AND 5),
    vendor_id          text        NOT NULL,
    year_result        text        CHECK (year_result IN ('HTXS', 'HTT', 'HT', 'CHT')),
    rule_set_version   text        NOT NULL,
    validated_at       timestamptz NOT NULL,
    -- SHA-256 of the canonical JSON of the YearRecord, exactly the bytes stored in `record`.
    content_sha256     bytea       NOT NULL CHECK (octet_length(content_sha256) = 32),
    record             jsonb       NOT NULL,
    status             text        NOT NULL DEFAULT 'VALIDATED'
                                   CHECK (status IN ('VALIDATED', 'SIGNED')),
    supersedes_version integer     CHECK (supersedes_version >= 1 AND supersedes_version < version),
    -- Filled by signing (status SIGNED): mã số tra cứu, the signed PDF, ngày hiệu lực.
    lookup_code        text        UNIQUE,
    pdf                bytea,
    pdf_sha256         bytea       CHECK (octet_length(pdf_sha256) = 32),
    effective_at       timestamptz,
    stored_at          timestamptz NOT NULL,
    PRIMARY KEY (record_id, school_year, version),
    UNIQUE (record_id, school_year, content_sha256),
    CHECK (status = 'VALIDATED' OR (lookup_code IS NOT NULL AND pdf_sha256 IS NOT NULL
                                    AND effective_at IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS record_versions_school ON record_versions (school_code, school_year);

-- The version in force for each record and school year.
CREATE TABLE IF NOT EXISTS current_versions (
    record_id   text        NOT NULL,
    school_year text        NOT NULL,
    version     integer     NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (record_id, school_year),
    FOREIGN KEY (record_id, school_year, version)
        REFERENCES record_versions (record_id, school_year, version)
);

-- Who did what to which record, when: every store, correction, re-delivery and read.
-- actor is the service (e.g. 'hocba-storage'); vendor_id the vendor behind the data.
CREATE TABLE IF NOT EXISTS record_audit (
    audit_id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text        NOT NULL,
    vendor_id   text,
    action      text        NOT NULL CHECK (action IN (
                    'VERSION_STORED', 'VERSION_SUPERSEDED', 'REDELIVERY_IGNORED',
                    'READ', 'READ_NOT_FOUND')),
    record_id   text,
    school_year text,
    version     integer,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS record_audit_record ON record_audit (record_id, at);

-- Append-only, enforced by the database and not only by the code: a version's content never
-- changes; signing may only fill the empty signing columns once (VALIDATED → SIGNED).
CREATE OR REPLACE FUNCTION record_versions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'record_versions is append-only: % % v% cannot be deleted',
            OLD.record_id, OLD.school_year, OLD.version USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.record_id, NEW.school_year, NEW.version, NEW.record_key, NEW.school_code,
        NEW.student_id, NEW.national_id, NEW.grade, NEW.vendor_id, NEW.year_result,
        NEW.rule_set_version, NEW.validated_at, NEW.content_sha256, NEW.record,
        NEW.supersedes_version, NEW.stored_at)
       IS DISTINCT FROM
       (OLD.record_id, OLD.school_year, OLD.version, OLD.record_key, OLD.school_code,
        OLD.student_id, OLD.national_id, OLD.grade, OLD.vendor_id, OLD.year_result,
        OLD.rule_set_version, OLD.validated_at, OLD.content_sha256, OLD.record,
        OLD.supersedes_version, OLD.stored_at)
       OR OLD.status = 'SIGNED' THEN
        RAISE EXCEPTION 'record_versions is append-only: % % v% cannot be changed',
            OLD.record_id, OLD.school_year, OLD.version USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS record_versions_append_only ON record_versions;
CREATE TRIGGER record_versions_append_only BEFORE UPDATE OR DELETE ON record_versions
    FOR EACH ROW EXECUTE FUNCTION record_versions_append_only();

CREATE OR REPLACE FUNCTION record_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'record_audit is append-only' USING ERRCODE = 'restrict_violation';
END
$$;
DROP TRIGGER IF EXISTS record_audit_append_only ON record_audit;
CREATE TRIGGER record_audit_append_only BEFORE UPDATE OR DELETE ON record_audit
    FOR EACH ROW EXECUTE FUNCTION record_audit_append_only();
