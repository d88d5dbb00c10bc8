-- Key and code transparency (issue 17, PROTOCOL.md 14): a random account id per account (the id a
-- key statement binds, never the name), whether the account's key statement is in a checkpoint the
-- help-seekers' pages accept, and the append-only log with its checkpoints.

-- 16 random bytes, never reused. The rows enrolled before this migration are given theirs by the
-- application at start-up (secrets.token_bytes(16)); a new row must bring one (trigger below).
ALTER TABLE volunteers ADD COLUMN account_id BLOB CHECK (account_id IS NULL OR length(account_id) = 16);
CREATE UNIQUE INDEX volunteers_by_account_id ON volunteers(account_id);
CREATE TRIGGER volunteers_account_id_required BEFORE INSERT ON volunteers
    WHEN NEW.account_id IS NULL
BEGIN
    SELECT RAISE(ABORT, 'account_id is required');
END;
CREATE TRIGGER volunteers_account_id_fixed BEFORE UPDATE OF account_id ON volunteers
    WHEN OLD.account_id IS NOT NULL AND NEW.account_id IS NOT OLD.account_id
BEGIN
    SELECT RAISE(ABORT, 'account_id never changes');
END;
-- 1 once the account's current key statement is in a usable checkpoint (the log keeper sets it).
ALTER TABLE volunteers ADD COLUMN key_ready INTEGER NOT NULL DEFAULT 0 CHECK (key_ready IN (0, 1));

-- The log's entries (key statements, revocations, release manifests): contiguous 0..n-1, never
-- updated or deleted.
CREATE TABLE log_entries (
    idx  INTEGER PRIMARY KEY CHECK (idx >= 0),
    data BLOB NOT NULL CHECK (length(data) BETWEEN 1 AND 4096)
) STRICT;
CREATE TRIGGER log_entries_no_update BEFORE UPDATE ON log_entries
BEGIN
    SELECT RAISE(ABORT, 'log entries are never changed');
END;
CREATE TRIGGER log_entries_no_delete BEFORE DELETE ON log_entries
BEGIN
    SELECT RAISE(ABORT, 'log entries are never deleted');
END;

-- The latest signed checkpoint per tree size, with the freshest witness cosignatures.
CREATE TABLE log_checkpoints (
    size       INTEGER PRIMARY KEY CHECK (size >= 0),
    note       TEXT NOT NULL,
    updated_at INTEGER
) STRICT;
