-- Volunteers, their one-time invitations and their sessions.
-- Nothing in this schema describes a help-seeker. Volunteers are staff with
-- accounts; their timestamps are coarse (whole seconds, for expiry only).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE invitations (
    token_hash  BLOB PRIMARY KEY,          -- BLAKE2b of the invitation token; the token itself is never stored
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('volunteer', 'partner', 'coordinator')),
    can_chat    INTEGER NOT NULL CHECK (can_chat IN (0, 1)),
    can_mail    INTEGER NOT NULL CHECK (can_mail IN (0, 1)),
    expires_at  INTEGER NOT NULL,          -- unix seconds
    used        INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
) STRICT;

CREATE TABLE volunteers (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    role             TEXT NOT NULL CHECK (role IN ('volunteer', 'partner', 'coordinator')),
    can_chat         INTEGER NOT NULL CHECK (can_chat IN (0, 1)),
    can_mail         INTEGER NOT NULL CHECK (can_mail IN (0, 1)),
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    enrolled_day     TEXT NOT NULL,        -- YYYY-MM-DD
    kdf_salt         BLOB NOT NULL,
    kdf_opslimit     INTEGER NOT NULL,
    kdf_memlimit     INTEGER NOT NULL,     -- bytes
    auth_hash        TEXT NOT NULL,        -- argon2id hash of the browser-derived authentication key
    x25519_public    BLOB NOT NULL,
    ed25519_public   BLOB NOT NULL,
    wrapped_identity BLOB NOT NULL,        -- private keys, AEAD-wrapped under a key the server never sees
    failed_logins    INTEGER NOT NULL DEFAULT 0,
    locked_until     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE sessions (
    token_hash    BLOB PRIMARY KEY,        -- BLAKE2b of the cookie value; the cookie itself is never stored
    volunteer_id  INTEGER NOT NULL REFERENCES volunteers(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_by_volunteer ON sessions(volunteer_id);
