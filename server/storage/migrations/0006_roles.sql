-- foreign_keys: off
-- Adds the mentor role (a volunteer who may read along with a colleague's chat).
-- SQLite cannot change a CHECK constraint in place, so both tables that name the
-- roles are rebuilt (the runner switches foreign keys off for this script and
-- checks them before it commits). Columns and rows are kept as they were. The legacy
-- rename keeps SQLite from re-checking the mail triggers while `volunteers` is briefly absent.

PRAGMA legacy_alter_table=ON;

CREATE TABLE invitations_new (
    token_hash  BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('volunteer', 'mentor', 'partner', 'coordinator')),
    can_chat    INTEGER NOT NULL CHECK (can_chat IN (0, 1)),
    can_mail    INTEGER NOT NULL CHECK (can_mail IN (0, 1)),
    expires_at  INTEGER NOT NULL,
    used        INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
) STRICT;
INSERT INTO invitations_new SELECT token_hash, name, role, can_chat, can_mail, expires_at, used FROM invitations;
DROP TABLE invitations;
ALTER TABLE invitations_new RENAME TO invitations;

CREATE TABLE volunteers_new (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    role               TEXT NOT NULL CHECK (role IN ('volunteer', 'mentor', 'partner', 'coordinator')),
    can_chat           INTEGER NOT NULL CHECK (can_chat IN (0, 1)),
    can_mail           INTEGER NOT NULL CHECK (can_mail IN (0, 1)),
    active             INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    enrolled_day       TEXT NOT NULL,
    kdf_salt           BLOB NOT NULL,
    kdf_opslimit       INTEGER NOT NULL,
    kdf_memlimit       INTEGER NOT NULL,
    auth_hash          TEXT NOT NULL,
    x25519_public      BLOB NOT NULL,
    ed25519_public     BLOB NOT NULL,
    wrapped_identity   BLOB NOT NULL,
    failed_logins      INTEGER NOT NULL DEFAULT 0,
    locked_until       INTEGER NOT NULL DEFAULT 0,
    x25519_certificate BLOB,
    mail_available     INTEGER NOT NULL DEFAULT 0 CHECK (mail_available IN (0, 1)),
    open_threads       INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO volunteers_new
    SELECT id, name, role, can_chat, can_mail, active, enrolled_day, kdf_salt, kdf_opslimit, kdf_memlimit,
           auth_hash, x25519_public, ed25519_public, wrapped_identity, failed_logins, locked_until,
           x25519_certificate, mail_available, open_threads
    FROM volunteers;
DROP TABLE volunteers;
ALTER TABLE volunteers_new RENAME TO volunteers;
PRAGMA legacy_alter_table=OFF;
