-- Anonymous mail threads. Nothing here identifies a help-seeker: a thread is
-- found by a hash of a key derived from the return token, and holds public
-- keys, coarse times (whole hours or days since 1970) and ciphertext.

ALTER TABLE volunteers ADD COLUMN x25519_certificate BLOB;   -- Ed25519 signature over x25519_public
ALTER TABLE volunteers ADD COLUMN mail_available INTEGER NOT NULL DEFAULT 0 CHECK (mail_available IN (0, 1));

CREATE TABLE mail_threads (
    id                    BLOB PRIMARY KEY,          -- 16 random bytes
    lookup_hash           BLOB NOT NULL UNIQUE,      -- hash of the token-derived lookup key
    seeker_x25519_public  BLOB NOT NULL,
    seeker_ed25519_public BLOB NOT NULL,
    volunteer_id          INTEGER REFERENCES volunteers(id),
    state                 TEXT NOT NULL CHECK (state IN ('open', 'handled', 'needs-volunteer')),
    assigned_hour         INTEGER NOT NULL,          -- when the current volunteer got it (unix hours)
    opened                INTEGER NOT NULL DEFAULT 0 CHECK (opened IN (0, 1)),
    waiting_since_hour    INTEGER,                   -- the help-seeker wrote and has no reply since
    unread_volunteer      INTEGER NOT NULL DEFAULT 0 CHECK (unread_volunteer IN (0, 1)),
    unread_seeker         INTEGER NOT NULL DEFAULT 0 CHECK (unread_seeker IN (0, 1)),
    last_activity_day     INTEGER NOT NULL           -- unix days; the thread expires after a quiet period
) STRICT;

CREATE INDEX mail_threads_by_volunteer ON mail_threads(volunteer_id);

CREATE TABLE mail_messages (
    thread_id      BLOB NOT NULL REFERENCES mail_threads(id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    author         INTEGER NOT NULL CHECK (author IN (1, 2)),  -- 1 help-seeker, 2 volunteer
    body           BLOB NOT NULL,     -- AEAD ciphertext under a per-message key
    signature      BLOB NOT NULL,     -- Ed25519 by the author
    signer_public  BLOB NOT NULL,     -- the author's Ed25519 public key
    seeker_wrap    BLOB NOT NULL,     -- the message key sealed to the help-seeker
    volunteer_wrap BLOB NOT NULL,     -- the message key sealed to the assigned volunteer
    PRIMARY KEY (thread_id, seq)
) STRICT;
