-- Choosing the mail volunteer with the fewest open threads counts threads per volunteer on every
-- new mail: a covering index keeps that count inside the index instead of reading every row.
DROP INDEX mail_threads_by_volunteer;
CREATE INDEX mail_threads_by_volunteer_state ON mail_threads(volunteer_id, state);
