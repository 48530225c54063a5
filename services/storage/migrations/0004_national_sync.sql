-- Where each record version stands with the national education database (CSDL ngành).
-- Owner: services/national_sync (all SQL against this table lives in
-- services/national_sync/store.py); read by `hocba sync status|replay|reconcile`.
--
-- One row per version national sync finished with: delivered (201), already present (200),
-- or dead-lettered (409 conflict, 400 refusal, attempts exhausted; its full history is on
-- hocba.sync.dlq), or handed back for another try by `hocba sync replay`. Every attempt is
-- on hocba.sync.status; this table keeps the last word. No foreign key to record_versions:
-- national sync works from the hocba.records.stored messages alone (its tests and benchmark
-- feed it messages), and reconciliation compares record_versions with the national side.
CREATE TABLE IF NOT EXISTS national_sync (
    record_id        text        NOT NULL,
    school_year      text        NOT NULL,
    version          integer     NOT NULL CHECK (version >= 1),
    school_code      text        NOT NULL,
    state            text        NOT NULL CHECK (state IN (
                         'DELIVERED', 'ALREADY_PRESENT', 'DEAD_LETTERED', 'REPLAY_REQUESTED')),
    attempts         integer     NOT NULL CHECK (attempts >= 1),
    last_http_status integer,
    reason_code      text,
    detail           text,
    last_attempt_at  timestamptz NOT NULL,
    delivered_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (record_id, school_year, version)
);

CREATE INDEX IF NOT EXISTS national_sync_state ON national_sync (state, school_code);
