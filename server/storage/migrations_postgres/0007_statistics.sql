-- Aggregate statistics for the coordinator (migrations/0007_statistics.sql): one count per
-- (day, channel, metric, bucket). An event adds 1 to one count in one UPSERT; there is never a row
-- per contact, and no chat id, thread id, volunteer or time finer than the day. PostgreSQL has no
-- WITHOUT ROWID: every UPSERT writes a new row version wherever there is room, so the physical order
-- of the versions follows the order of the events. `PostgresStorage.purge` rewrites the table in
-- primary-key order (CLUSTER) for that reason, as SQLite's purge empties its write-ahead log.
CREATE TABLE stats_counts (
    day      text COLLATE "C" NOT NULL,                      -- YYYY-MM-DD (UTC)
    channel  text COLLATE "C" NOT NULL CHECK (channel IN ('chat', 'mail')),
    metric   text COLLATE "C" NOT NULL,                      -- offered, answered, abandoned, finished, handover, first_reply
    bucket   text COLLATE "C" NOT NULL,                      -- a histogram's upper edge ('+' above the last), an outcome, or ''
    count    bigint NOT NULL CHECK (count >= 0),
    PRIMARY KEY (day, channel, metric, bucket)
);
