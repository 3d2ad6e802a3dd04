-- Provider sources (Xtream accounts, M3U playlists, XMLTV guides), what
-- their syncs ingested, and how each sync went. Passwords are stored here
-- (the file is readable by its owner only) and never returned by the API.
CREATE TABLE IF NOT EXISTS sources (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL CHECK (kind IN ('xtream', 'm3u', 'xmltv')),
    name            TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    username        TEXT,
    password        TEXT,
    user_agent      TEXT,
    max_connections INTEGER,
    priority        INTEGER NOT NULL DEFAULT 10,
    sync_hours      INTEGER NOT NULL,
    -- Declared in the config file: kept in step with it at start.
    config_key      TEXT UNIQUE,
    -- What the panel said of the account (Xtream).
    account_status  TEXT,
    account_expires INTEGER,
    account_max_connections INTEGER,
    account_active_cons INTEGER,
    account_trial   INTEGER,
    -- The last sync.
    last_sync_at    TEXT,
    last_sync_ok    INTEGER,
    last_sync_message TEXT,
    last_sync_count INTEGER,
    auth_failures   INTEGER NOT NULL DEFAULT 0,
    -- XMLTV: the generation of guide rows readers see (a sync writes the
    -- next one in short transactions, then switches in one).
    guide_gen       INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT    NOT NULL
);

-- Streams as the last good sync saw them. Identity survives re-syncs:
-- (source, stream id in the URL or the panel's stream_id, else tvg-id+name).
CREATE TABLE IF NOT EXISTS provider_streams (
    source_id   INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    stream_key  TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    tvg_id      TEXT,
    tvg_name    TEXT,
    logo        TEXT,
    group_name  TEXT,
    chno        TEXT,
    user_agent  TEXT,
    referrer    TEXT,
    first_seen  TEXT    NOT NULL,
    last_seen   TEXT    NOT NULL,
    -- Missing from a sync since then; deleted after `sync.stale_days`.
    stale_since TEXT,
    PRIMARY KEY (source_id, stream_key)
);

-- Guides as the last good sync of each XMLTV source saw them.
CREATE TABLE IF NOT EXISTS guide_channels (
    source_id     INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    gen           INTEGER NOT NULL,
    channel_id    TEXT    NOT NULL,
    -- JSON array of {"name","lang"}, in document order.
    display_names TEXT    NOT NULL,
    icon          TEXT,
    lcn           TEXT,
    PRIMARY KEY (source_id, gen, channel_id)
);

CREATE TABLE IF NOT EXISTS programmes (
    source_id   INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    gen         INTEGER NOT NULL,
    channel_id  TEXT    NOT NULL,
    -- Unix seconds (the offsets in the guide applied).
    start       INTEGER NOT NULL,
    stop        INTEGER,
    title       TEXT    NOT NULL,
    sub_title   TEXT,
    description TEXT,
    -- JSON arrays.
    categories  TEXT    NOT NULL DEFAULT '[]',
    episode_num TEXT    NOT NULL DEFAULT '[]',
    icon        TEXT,
    rating      TEXT,
    -- Also the guide's read order: one source's channel, by start.
    PRIMARY KEY (source_id, gen, channel_id, start)
);
