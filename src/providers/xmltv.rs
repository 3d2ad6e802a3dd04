//! A streaming XMLTV guide reader with bounded memory.
//!
//! [`Reader`] pulls one [`Item`] (a channel or a programme) at a time from
//! any `BufRead`, reusing one buffer, so a guide of hundreds of MB costs
//! the same memory as a small one: a single XML event may not exceed
//! [`MAX_EVENT_BYTES`], text fields are cut at [`MAX_TEXT_BYTES`],
//! repeated children at [`MAX_LIST_LEN`] and nesting at [`MAX_DEPTH`].
//! [`open`] detects gzip by its magic bytes. Malformed XML is an
//! [`XmltvError`] with the line and byte offset (of the inflated stream);
//! a programme with an unusable start or channel is skipped and counted
//! ([`Reader::skipped`]).
//!
//! No I/O of its own: the caller opens the file or the HTTP body.

mod counting;
mod input;
mod reader;
mod time;
mod types;

pub use input::{Input, open};
pub use reader::Reader;
pub use time::parse_time;
pub use types::*;

#[cfg(test)]
#[path = "xmltv_tests.rs"]
mod tests;
