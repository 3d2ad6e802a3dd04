-- The API reads events newest first, optionally by kind or by channel;
-- retention deletes by age. `events_ts` only repeated the primary key.
DROP INDEX IF EXISTS events_ts;
CREATE INDEX IF NOT EXISTS events_kind_id ON events (kind, id DESC);
CREATE INDEX IF NOT EXISTS events_channel_id ON events (channel, id DESC);
CREATE INDEX IF NOT EXISTS events_by_ts ON events (ts);
