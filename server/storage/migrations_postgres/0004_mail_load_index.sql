-- Choosing the mail volunteer with the fewest open threads counted threads per volunteer on every
-- new mail (migrations/0004_mail_load_index.sql): a covering index keeps that count in the index.
DROP INDEX mail_threads_by_volunteer;
CREATE INDEX mail_threads_by_volunteer_state ON mail_threads(volunteer_id, state);
