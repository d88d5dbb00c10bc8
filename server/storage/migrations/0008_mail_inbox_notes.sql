-- The volunteer's inbox (issue 15): a coarse time per message, an unread count per thread, and a
-- private note per thread that only the assigned volunteer can read (PROTOCOL.md 12.10).

-- When the message was stored, in whole hours since 1970 (DESIGN.md invariant 5); NULL for the
-- messages stored before this migration.
ALTER TABLE mail_messages ADD COLUMN hour INTEGER;

-- The help-seeker's messages the assigned volunteer has not opened yet.
ALTER TABLE mail_threads ADD COLUMN unread_count INTEGER NOT NULL DEFAULT 0;
UPDATE mail_threads SET unread_count = unread_volunteer;

-- The volunteer's note on the thread: ciphertext sealed in the browser to the assigned volunteer's
-- own X25519 key (PROTOCOL.md 12.10), or NULL. Deleted with its row, dropped at a handover unless
-- the volunteer's page sealed it anew for the colleague.
ALTER TABLE mail_threads ADD COLUMN volunteer_note BLOB;
