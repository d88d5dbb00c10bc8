-- Aggregate chat statistics from the volunteers' wrap-up forms (migrations/0002_chat_wrapups.sql).
-- One row per (day, topic, age band, handed over) with a count: no chat id,
-- no volunteer, no time finer than the day. A single wrap-up only increments a count.
CREATE TABLE chat_wrapups (
    day          text COLLATE "C" NOT NULL,  -- YYYY-MM-DD
    topic        text COLLATE "C" NOT NULL,
    age_band     text COLLATE "C" NOT NULL,
    handed_over  bigint NOT NULL CHECK (handed_over IN (0, 1)),
    count        bigint NOT NULL,
    PRIMARY KEY (day, topic, age_band, handed_over)
);
