-- Each new mail goes to the available volunteer with the fewest open threads
-- (migrations/0005_open_thread_counts.sql): a count kept up to date by triggers, in the same
-- transaction as every change, makes the choice cost the same whatever the load. The three
-- triggers fire exactly when SQLite's do; one function does the counting for all three.
ALTER TABLE volunteers ADD COLUMN open_threads bigint NOT NULL DEFAULT 0;

UPDATE volunteers SET open_threads =
    (SELECT count(*) FROM mail_threads t WHERE t.volunteer_id = volunteers.id AND t.state != 'handled');

CREATE FUNCTION mail_threads_open_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE volunteers SET open_threads = open_threads - 1
            WHERE id = OLD.volunteer_id AND OLD.state != 'handled';
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        UPDATE volunteers SET open_threads = open_threads + 1
            WHERE id = NEW.volunteer_id AND NEW.state != 'handled';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER mail_threads_open_insert AFTER INSERT ON mail_threads FOR EACH ROW
    WHEN (NEW.volunteer_id IS NOT NULL AND NEW.state != 'handled')
    EXECUTE FUNCTION mail_threads_open_count();

CREATE TRIGGER mail_threads_open_delete AFTER DELETE ON mail_threads FOR EACH ROW
    WHEN (OLD.volunteer_id IS NOT NULL AND OLD.state != 'handled')
    EXECUTE FUNCTION mail_threads_open_count();

CREATE TRIGGER mail_threads_open_update AFTER UPDATE OF volunteer_id, state ON mail_threads FOR EACH ROW
    EXECUTE FUNCTION mail_threads_open_count();
