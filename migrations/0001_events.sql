-- Events: session start/stop, candidate failures, stalls, failovers,
-- exhaustion, dropped readers. `detail` is a JSON object.
CREATE TABLE IF NOT EXISTS events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    ts       TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    channel  TEXT,
    detail   TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_ts ON events (id DESC);

-- Small persistent settings (the HDHomeRun DeviceID, ...).
CREATE TABLE IF NOT EXISTS kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
