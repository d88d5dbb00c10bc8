-- Anonymous mail threads (migrations/0003_mail.sql). Nothing here identifies a help-seeker: a
-- thread is found by a hash of a key derived from the return token, and holds public keys, coarse
-- times (whole hours or days since 1970) and ciphertext.

ALTER TABLE volunteers ADD COLUMN x25519_certificate bytea;  -- Ed25519 signature over x25519_public
ALTER TABLE volunteers ADD COLUMN mail_available bigint NOT NULL DEFAULT 0 CHECK (mail_available IN (0, 1));

CREATE TABLE mail_threads (
    id                    bytea PRIMARY KEY,         -- 16 random bytes
    lookup_hash           bytea NOT NULL UNIQUE,     -- hash of the token-derived lookup key
    seeker_x25519_public  bytea NOT NULL,
    seeker_ed25519_public bytea NOT NULL,
    volunteer_id          bigint REFERENCES volunteers(id),
    state                 text COLLATE "C" NOT NULL CHECK (state IN ('open', 'handled', 'needs-volunteer')),
    assigned_hour         bigint NOT NULL,           -- when the current volunteer got it (unix hours)
    opened                bigint NOT NULL DEFAULT 0 CHECK (opened IN (0, 1)),
    waiting_since_hour    bigint,                    -- the help-seeker wrote and has no reply since
    unread_volunteer      bigint NOT NULL DEFAULT 0 CHECK (unread_volunteer IN (0, 1)),
    unread_seeker         bigint NOT NULL DEFAULT 0 CHECK (unread_seeker IN (0, 1)),
    last_activity_day     bigint NOT NULL            -- unix days; the thread expires after a quiet period
);

CREATE INDEX mail_threads_by_volunteer ON mail_threads(volunteer_id);

CREATE TABLE mail_messages (
    thread_id      bytea NOT NULL REFERENCES mail_threads(id) ON DELETE CASCADE,
    seq            bigint NOT NULL,
    author         bigint NOT NULL CHECK (author IN (1, 2)),  -- 1 help-seeker, 2 volunteer
    body           bytea NOT NULL,    -- AEAD ciphertext under a per-message key
    signature      bytea NOT NULL,    -- Ed25519 by the author
    signer_public  bytea NOT NULL,    -- the author's Ed25519 public key
    seeker_wrap    bytea NOT NULL,    -- the message key sealed to the help-seeker
    volunteer_wrap bytea NOT NULL,    -- the message key sealed to the assigned volunteer
    PRIMARY KEY (thread_id, seq)
);
