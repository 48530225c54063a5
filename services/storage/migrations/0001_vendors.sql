-- Ingestion: vendors (nhà cung cấp), their access tokens, their dated school assignments,
-- and the ids of ingested events for de-duplication. Owner: services/ingestion
-- (all SQL against these tables lives in services/ingestion/vendors.py).

CREATE TABLE IF NOT EXISTS vendors (
    vendor_id  text        PRIMARY KEY CHECK (vendor_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    name       text        NOT NULL CHECK (name <> ''),
    active     boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Only the SHA-256 of a token is kept; the token itself is shown once when issued.
CREATE TABLE IF NOT EXISTS vendor_tokens (
    token_id     uuid        PRIMARY KEY,
    vendor_id    text        NOT NULL REFERENCES vendors (vendor_id),
    token_sha256 bytea       NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX IF NOT EXISTS vendor_tokens_vendor ON vendor_tokens (vendor_id);

-- A vendor may publish for a school on the days [valid_from, valid_to] (Vietnam dates;
-- valid_to NULL = open-ended). Dated so that a school or student transfer can move
-- authorization to another vendor at an effective date without losing history.
CREATE TABLE IF NOT EXISTS vendor_schools (
    vendor_id   text NOT NULL REFERENCES vendors (vendor_id),
    school_code text NOT NULL CHECK (school_code <> ''),
    valid_from  date NOT NULL,
    valid_to    date CHECK (valid_to IS NULL OR valid_to >= valid_from),
    PRIMARY KEY (vendor_id, school_code, valid_from)
);
CREATE INDEX IF NOT EXISTS vendor_schools_school ON vendor_schools (school_code, valid_from);

-- Accepted event ids with the SHA-256 of the event's Avro body (current VendorEvent schema). Written only after
-- the event is durably on hocba.events.accepted (see services/ingestion/handlers.py).
CREATE TABLE IF NOT EXISTS ingested_events (
    event_id       uuid        PRIMARY KEY,
    vendor_id      text        NOT NULL,
    content_sha256 bytea       NOT NULL CHECK (octet_length(content_sha256) = 32),
    first_seen_at  timestamptz NOT NULL DEFAULT now()
);
