//! What a sync reports: why it stored nothing ([`SyncError`]), what it
//! stored ([`Outcome`]) and what a running one is doing ([`Progress`]).

use serde::Serialize;

use crate::store::StoreError;

/// Why a sync stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    #[error("the account is {status}{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    AccountInactive {
        status: String,
        message: Option<String>,
    },
    #[error("cannot fetch {what}: {message}")]
    Fetch { what: String, message: String },
    #[error("HTTP {status} from {what}")]
    Http { what: String, status: u16 },
    #[error("{what} is larger than sync.max_download_mb ({mb} MiB)")]
    TooLarge { what: String, mb: u64 },
    #[error("{0}")]
    Parse(String),
    #[error("the answer holds no streams")]
    Empty,
    #[error(
        "the stream count fell from {before} to {after} (more than sync.max_drop_percent, {percent} %): treated as a bad answer"
    )]
    Drop {
        before: i64,
        after: usize,
        percent: u32,
    },
    #[error(
        "paused after {0} refused logins in a row: fix the credentials (PUT /api/sources/ID) or ask for a sync"
    )]
    Paused(i64),
    #[error("a sync of this source is already running")]
    Busy,
    #[error("no source with id {0}")]
    NoSuchSource(i64),
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

impl SyncError {
    pub fn reason(&self) -> &'static str {
        match self {
            SyncError::AuthFailed(_) => "auth_failed",
            SyncError::AccountInactive { .. } => "account_inactive",
            SyncError::Fetch { .. } | SyncError::TooLarge { .. } => "fetch",
            SyncError::Http { .. } => "http",
            SyncError::Parse(_) => "parse",
            SyncError::Empty => "empty",
            SyncError::Drop { .. } => "drop",
            SyncError::Paused(_) => "paused",
            SyncError::Busy => "busy",
            SyncError::NoSuchSource(_) => "no_such_source",
            SyncError::Store(_) => "store",
        }
    }
}

/// What a running sync is doing, for the API.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Progress {
    pub step: String,
    pub started_ms_ago: u64,
}

/// A finished sync.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    pub items: u64,
    pub added: u64,
    pub stale: u64,
    pub removed: u64,
    pub skipped: u64,
    pub programmes: Option<u64>,
    pub ms: u64,
}
