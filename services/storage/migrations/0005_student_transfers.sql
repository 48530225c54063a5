-- Ingestion: accepted school transfers (chuyển trường). Owner: services/ingestion (all SQL
-- against this table lives in services/ingestion/vendors.py).
--
-- One row per accepted StudentTransfer event, written after the event is durable on
-- hocba.events.accepted and hocba.transfers (like ingested_events), never changed. A
-- student's rows say which school the student belongs to on each day, hence which vendor
-- may publish for the student: the receiving school of the latest transfer in effect,
-- else the sending school of the earliest (services/ingestion/authorization.py).
CREATE TABLE IF NOT EXISTS student_transfers (
    event_id         uuid        PRIMARY KEY,
    student_id       text        NOT NULL CHECK (student_id <> ''),
    from_school_code text        NOT NULL CHECK (from_school_code <> ''),
    to_school_code   text        NOT NULL CHECK (to_school_code <> ''
                                                 AND to_school_code <> from_school_code),
    effective_on     date        NOT NULL,
    school_year      text        NOT NULL,
    vendor_id        text        NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS student_transfers_student
    ON student_transfers (student_id, effective_on);
