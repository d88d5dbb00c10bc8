-- Key and code transparency (the PostgreSQL twin of migrations/0010_transparency.sql): a random
-- account id per account, whether its key statement is in a usable checkpoint, the append-only log
-- and its checkpoints.

-- 16 random bytes, never reused. The rows enrolled before this migration are given theirs by the
-- application at start-up; the NOT VALID constraint holds every new or changed row to it.
ALTER TABLE volunteers ADD COLUMN account_id bytea
    CONSTRAINT volunteers_account_id_length CHECK (account_id IS NULL OR length(account_id) = 16);
ALTER TABLE volunteers ADD CONSTRAINT volunteers_account_id_key UNIQUE (account_id);
ALTER TABLE volunteers ADD CONSTRAINT volunteers_account_id_required CHECK (account_id IS NOT NULL) NOT VALID;
CREATE FUNCTION volunteers_account_id_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.account_id IS NOT NULL AND NEW.account_id IS DISTINCT FROM OLD.account_id THEN
        RAISE EXCEPTION 'account_id never changes';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER volunteers_account_id_fixed BEFORE UPDATE OF account_id ON volunteers
    FOR EACH ROW EXECUTE FUNCTION volunteers_account_id_fixed();
ALTER TABLE volunteers ADD COLUMN key_ready bigint NOT NULL DEFAULT 0 CHECK (key_ready IN (0, 1));

-- The log's entries: contiguous 0..n-1 (appended under an advisory lock), never updated or deleted.
CREATE TABLE log_entries (
    idx  bigint PRIMARY KEY CHECK (idx >= 0),
    data bytea NOT NULL CHECK (length(data) BETWEEN 1 AND 4096)
);
CREATE FUNCTION log_entries_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'log entries are never changed or deleted';
END $$;
CREATE TRIGGER log_entries_frozen BEFORE UPDATE OR DELETE ON log_entries
    FOR EACH ROW EXECUTE FUNCTION log_entries_frozen();

-- The latest signed checkpoint per tree size, with the freshest witness cosignatures.
CREATE TABLE log_checkpoints (
    size       bigint PRIMARY KEY CHECK (size >= 0),
    note       text COLLATE "C" NOT NULL,
    updated_at bigint
);
