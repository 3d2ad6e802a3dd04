-- The lineup built from ingested streams: a channel per guide channel (or
-- per provider channel when there is no guide), with a number it keeps
-- across re-syncs, restarts, reshuffled provider ids and renames, and the
-- user's choices (enabled, number) that survive re-syncs.
CREATE TABLE IF NOT EXISTS lineup_channels (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Identity: 'guide:<xmltv id>' or 'name:<normalised provider name>'.
    key            TEXT    NOT NULL UNIQUE,
    number         TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    guide_id       TEXT,
    logo           TEXT,
    group_name     TEXT,
    enabled        INTEGER NOT NULL,
    -- Set by a person: re-syncs keep it.
    enabled_manual INTEGER NOT NULL DEFAULT 0,
    number_manual  INTEGER NOT NULL DEFAULT 0,
    -- No stream feeds it since then; its number stays reserved.
    stale_since    TEXT,
    created_at     TEXT    NOT NULL
);

-- How each ingested stream was matched to a guide channel.
CREATE TABLE IF NOT EXISTS stream_matches (
    source_id   INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    stream_key  TEXT    NOT NULL,
    -- The guide channel it feeds (auto or manual); NULL: unmatched.
    guide_id    TEXT,
    confidence  REAL,
    -- guide_id | display_name | fuzzy | manual | none
    method      TEXT    NOT NULL,
    manual      INTEGER NOT NULL DEFAULT 0,
    -- JSON [{"guide_id", "confidence"}], best first.
    suggestions TEXT    NOT NULL DEFAULT '[]',
    -- A person's candidate order within its channel (lower first).
    rank        INTEGER,
    PRIMARY KEY (source_id, stream_key)
);
