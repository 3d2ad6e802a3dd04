//! The XMLTV reader's values and errors, shared by `reader` and `input`
//! (kept out of the parent module so no child imports its parent).

use std::io;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

/// Largest single XML event (a start tag, a text run) accepted.
pub const MAX_EVENT_BYTES: u64 = 1024 * 1024;
/// Longest text field kept; the rest is dropped.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Most values kept of a repeated child (display names, URLs,
/// categories, episode numbers) in one item; the rest are dropped.
pub const MAX_LIST_LEN: usize = 64;
/// Deepest element nesting accepted (real guides nest 4 levels).
pub const MAX_DEPTH: usize = 64;

/// A channel or a programme, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Channel(Channel),
    Programme(Programme),
}

/// `<channel id="…">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    /// Every `<display-name>`, in order.
    pub display_names: Vec<DisplayName>,
    /// The first `<icon src>`.
    pub icon: Option<String>,
    /// `<lcn>` (not in the DTD, common in the wild).
    pub lcn: Option<String>,
    pub urls: Vec<String>,
}

/// `<display-name lang="…">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName {
    pub name: String,
    pub lang: Option<String>,
}

/// `<programme channel="…" start="…" stop="…">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Programme {
    pub channel: String,
    pub start: DateTime<FixedOffset>,
    /// None when absent or unparsable.
    pub stop: Option<DateTime<FixedOffset>>,
    /// The first `<title>` (empty when there is none).
    pub title: String,
    pub sub_title: Option<String>,
    pub desc: Option<String>,
    pub categories: Vec<String>,
    /// `(system, value)`; `system` defaults to `onscreen` as in the DTD.
    pub episode_num: Vec<(String, String)>,
    pub icon: Option<String>,
    /// The first `<rating><value>`.
    pub rating: Option<String>,
}

/// Why a guide could not be read further. Positions are 1-based lines
/// and 0-based byte offsets into the (inflated) document.
#[derive(Debug, thiserror::Error)]
pub enum XmltvError {
    #[error("malformed XML at line {line} (byte {offset}): {message}")]
    Malformed {
        line: u64,
        offset: u64,
        message: String,
    },
    #[error(
        "truncated guide: end of input at line {line} (byte {offset}) inside <{open}> opened at line {opened_line}"
    )]
    Truncated {
        line: u64,
        offset: u64,
        open: String,
        opened_line: u64,
    },
    #[error("not XML at line {line} (byte {offset}): {what}")]
    NotXml {
        line: u64,
        offset: u64,
        what: &'static str,
    },
    #[error(
        "not an XMLTV guide: the root element at line {line} (byte {offset}) is <{found}>, not <tv>"
    )]
    RootNotTv {
        line: u64,
        offset: u64,
        found: String,
    },
    #[error("XML event larger than {limit} bytes at line {line} (byte {offset})")]
    TooLarge { line: u64, offset: u64, limit: u64 },
    #[error("elements nested deeper than {limit} at line {line} (byte {offset})")]
    TooDeep {
        line: u64,
        offset: u64,
        limit: usize,
    },
    /// A read failed, including a corrupt gzip stream.
    #[error("read error at line {line} (byte {offset}): {source}")]
    Io {
        line: u64,
        offset: u64,
        #[source]
        source: Arc<io::Error>,
    },
}
