-- Quick replies: short texts a coordinator writes for the organisation (Dutch and English) and a
-- volunteer inserts into the chat composer, edits and sends. Organisation text, never help-seeker
-- data: no author, no time, no link to a chat or a thread. At most 50 replies (checked by the
-- storage inside its write transaction) of 1 to 1,000 characters per language (checked here too).
CREATE TABLE quick_replies (
    id  INTEGER PRIMARY KEY,                                 -- in the order made
    nl  TEXT NOT NULL CHECK (length(nl) BETWEEN 1 AND 1000),
    en  TEXT NOT NULL CHECK (length(en) BETWEEN 1 AND 1000)
) STRICT;
