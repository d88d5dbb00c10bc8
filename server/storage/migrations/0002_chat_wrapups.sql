-- Aggregate chat statistics from the volunteers' wrap-up forms.
-- One row per (day, topic, age band, handed over) with a count: no chat id,
-- no volunteer, no time finer than the day. A single wrap-up only increments a count.
CREATE TABLE chat_wrapups (
    day          TEXT NOT NULL,              -- YYYY-MM-DD
    topic        TEXT NOT NULL,
    age_band     TEXT NOT NULL,
    handed_over  INTEGER NOT NULL CHECK (handed_over IN (0, 1)),
    count        INTEGER NOT NULL,
    PRIMARY KEY (day, topic, age_band, handed_over)
) STRICT;
