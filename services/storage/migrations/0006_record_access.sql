-- Storage: who may read records besides the holder of a lookup code, and the guards of
-- lookup (issue "Using the records"). Owner: services/storage (SQL in services/storage/
-- access.py, lookup.py, standing.py, admissions.py and repository.py).

-- Access clients: a school (acting through its vendor's system), an admissions office
-- (tuyển sinh lớp 6) or the national education database. Each holds one bearer token, of
-- which only the SHA-256 is kept (shown once when issued by `hocba access add-client`).
-- school_codes: for a SCHOOL its schools; for an ADMISSIONS_OFFICE the schools whose
-- grade-5 students it may check by national id; unused for NATIONAL_DB.
CREATE TABLE IF NOT EXISTS access_clients (
    client_id    text        PRIMARY KEY CHECK (client_id ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    kind         text        NOT NULL CHECK (kind IN ('SCHOOL', 'ADMISSIONS_OFFICE', 'NATIONAL_DB')),
    name         text        NOT NULL CHECK (name <> ''),
    school_codes text[]      NOT NULL DEFAULT '{}',
    token_sha256 bytea       NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- A school transfer (chuyển trường) grants the receiving school access to the student's
-- records from its effective date: one row per transfer event, never changed.
CREATE TABLE IF NOT EXISTS record_grants (
    event_id         text        PRIMARY KEY,
    student_id       text        NOT NULL,
    school_code      text        NOT NULL,
    from_school_code text        NOT NULL,
    granted_from     date        NOT NULL,
    school_year      text        NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS record_grants_student ON record_grants (student_id, school_code);

DROP TRIGGER IF EXISTS record_grants_append_only ON record_grants;
CREATE TRIGGER record_grants_append_only BEFORE UPDATE OR DELETE ON record_grants
    FOR EACH ROW EXECUTE FUNCTION storage_mapping_append_only();

-- Failed lookups per code as typed (canonical form), known or not, so that a lock says
-- nothing about whether a code exists. Shared by every storage replica.
CREATE TABLE IF NOT EXISTS lookup_attempts (
    lookup_code    text        PRIMARY KEY,
    failures       integer     NOT NULL DEFAULT 0 CHECK (failures >= 0),
    window_started timestamptz NOT NULL,
    locked_until   timestamptz
);

-- The audit trail names the client and the purpose of a read; new actions: a read refused
-- (wrong second factor, locked, not entitled), a PDF verified against the platform, and a
-- transfer's access grant.
ALTER TABLE record_audit ADD COLUMN IF NOT EXISTS client_id text;
ALTER TABLE record_audit ADD COLUMN IF NOT EXISTS purpose text;
ALTER TABLE record_audit DROP CONSTRAINT IF EXISTS record_audit_action_check;
ALTER TABLE record_audit ADD CONSTRAINT record_audit_action_check CHECK (action IN (
    'VERSION_STORED', 'VERSION_SUPERSEDED', 'VERSION_STORED_LATE', 'REDELIVERY_IGNORED',
    'VERSION_CONFLICT_REFUSED', 'RECORD_ID_CONFLICT_REFUSED', 'LOOKUP_CODE_CONFLICT_REFUSED',
    'READ', 'READ_NOT_FOUND', 'READ_REFUSED', 'VERIFIED', 'ACCESS_GRANTED'));
CREATE INDEX IF NOT EXISTS record_audit_client ON record_audit (client_id, at)
    WHERE client_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_audit_at ON record_audit (at);
