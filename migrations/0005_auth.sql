-- API tokens for scripts (issue 12). Only a SHA-256 of each token is kept:
-- the token itself is shown once, when it is made.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
