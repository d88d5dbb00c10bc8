-- Each new mail goes to the available volunteer with the fewest open threads. Counting threads on
-- every new mail grows with the number of threads; a count kept up to date by triggers (in the
-- same transaction as every change) makes the choice cost the same whatever the load.
ALTER TABLE volunteers ADD COLUMN open_threads INTEGER NOT NULL DEFAULT 0;

UPDATE volunteers SET open_threads =
    (SELECT count(*) FROM mail_threads t WHERE t.volunteer_id = volunteers.id AND t.state != 'handled');

CREATE TRIGGER mail_threads_open_insert AFTER INSERT ON mail_threads
WHEN NEW.volunteer_id IS NOT NULL AND NEW.state != 'handled'
BEGIN
    UPDATE volunteers SET open_threads = open_threads + 1 WHERE id = NEW.volunteer_id;
END;

CREATE TRIGGER mail_threads_open_delete AFTER DELETE ON mail_threads
WHEN OLD.volunteer_id IS NOT NULL AND OLD.state != 'handled'
BEGIN
    UPDATE volunteers SET open_threads = open_threads - 1 WHERE id = OLD.volunteer_id;
END;

CREATE TRIGGER mail_threads_open_update AFTER UPDATE OF volunteer_id, state ON mail_threads
BEGIN
    UPDATE volunteers SET open_threads = open_threads - 1
        WHERE id = OLD.volunteer_id AND OLD.state != 'handled';
    UPDATE volunteers SET open_threads = open_threads + 1
        WHERE id = NEW.volunteer_id AND NEW.state != 'handled';
END;
