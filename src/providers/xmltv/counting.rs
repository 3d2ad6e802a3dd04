//! A `BufRead` adapter that counts lines as bytes are consumed and
//! refuses an XML event that grows past a cap, so one hostile text run or
//! tag cannot make the event buffer (or the memory) grow without bound.

use std::io::{self, BufRead, Read};

/// Positions up to the consumed point, and the newlines of the current
/// event so a position inside it maps to its exact line.
pub(super) struct Counting<R> {
    inner: R,
    consumed: u64,
    /// 1-based line of the consumed point.
    line: u64,
    event_start: u64,
    event_line: u64,
    /// Offsets of the newlines consumed since `event_start`.
    newlines: Vec<u64>,
    cap: u64,
    over_cap: bool,
}

/// Newline offsets kept per event beyond which the vector is shrunk back.
const NEWLINES_KEEP: usize = 4096;

impl<R> Counting<R> {
    pub(super) fn new(inner: R, cap: u64) -> Self {
        Counting {
            inner,
            consumed: 0,
            line: 1,
            event_start: 0,
            event_line: 1,
            newlines: Vec::new(),
            cap,
            over_cap: false,
        }
    }

    /// Marks the start of an XML event.
    pub(super) fn start_event(&mut self) {
        self.event_start = self.consumed;
        self.event_line = self.line;
        if self.newlines.capacity() > NEWLINES_KEEP {
            self.newlines = Vec::new();
        }
        self.newlines.clear();
        self.over_cap = false;
    }

    /// Where the current event started.
    pub(super) fn event_start(&self) -> u64 {
        self.event_start
    }

    pub(super) fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Whether the last read was refused for exceeding the cap.
    pub(super) fn over_cap(&self) -> bool {
        self.over_cap
    }

    /// The 1-based line of a byte offset at or after the current event's
    /// start (earlier offsets map to the event's first line).
    pub(super) fn line_at(&self, offset: u64) -> u64 {
        if offset < self.event_start {
            return self.event_line;
        }
        let before = self.newlines.partition_point(|&n| n < offset);
        self.event_line + before as u64
    }
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.consumed - self.event_start > self.cap {
            self.over_cap = true;
            return Err(io::Error::other("XML event too large"));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        // A second `fill_buf` without a `consume` between returns the same
        // buffered bytes without reading, so this costs no I/O.
        if let Ok(available) = self.inner.fill_buf() {
            let used = &available[..n.min(available.len())];
            for i in memchr::memchr_iter(b'\n', used) {
                self.newlines.push(self.consumed + i as u64);
            }
            self.line = self.event_line + self.newlines.len() as u64;
        }
        self.consumed += n as u64;
        self.inner.consume(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_consumption_and_events() {
        let mut c = Counting::new(&b"a\nb\n\nc"[..], 100);
        c.start_event();
        c.consume(3);
        assert_eq!((c.line, c.line_at(0), c.line_at(2)), (2, 1, 2));
        c.start_event();
        c.consume(3);
        assert_eq!(
            (c.line, c.line_at(3), c.line_at(4), c.line_at(5)),
            (4, 2, 3, 4)
        );
        assert_eq!(c.line_at(0), 2);
    }

    #[test]
    fn an_event_past_the_cap_is_refused() {
        let data = [b'x'; 100];
        let mut c = Counting::new(&data[..], 10);
        c.start_event();
        c.consume(11);
        assert!(c.fill_buf().is_err());
        assert!(c.over_cap());
        c.start_event();
        assert!(c.fill_buf().is_ok());
    }
}
