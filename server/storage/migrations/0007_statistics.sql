-- Aggregate statistics for the coordinator: one count per (day, channel, metric, bucket).
-- An event (a chat offered, answered after a wait, a mail's first reply, ...) adds 1 to one
-- count in one UPSERT; there is never a row per contact, and no chat id, thread id, volunteer
-- or time finer than the day. WITHOUT ROWID: rows live in primary-key order, so neither a
-- rowid nor the physical order of the rows tells in which order the events happened.
CREATE TABLE stats_counts (
    day      TEXT NOT NULL,                                  -- YYYY-MM-DD (UTC)
    channel  TEXT NOT NULL CHECK (channel IN ('chat', 'mail')),
    metric   TEXT NOT NULL,                                  -- offered, answered, abandoned, finished, handover, first_reply
    bucket   TEXT NOT NULL,                                  -- a histogram's upper edge ('+' above the last), an outcome, or ''
    count    INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (day, channel, metric, bucket)
) STRICT, WITHOUT ROWID;
