//! Guide sources: [`open`] sniffs the gzip magic and wraps the bytes in
//! a buffered (and, for gzip, inflating) [`Input`].

use std::io::{self, BufRead, BufReader, Chain, Cursor, Read};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

use super::reader::Reader;
use super::types::XmltvError;

/// A guide source, plain or gzip, as [`open`] detected it.
pub struct Input<R: Read>(InputKind<R>);

type Prefixed<R> = Chain<Cursor<Vec<u8>>, R>;

enum InputKind<R: Read> {
    Plain(BufReader<Prefixed<R>>),
    Gzip(BufReader<MultiGzDecoder<Prefixed<R>>>),
}

impl<R: Read> Input<R> {
    /// Whether the source is gzip.
    pub fn is_gzip(&self) -> bool {
        matches!(self.0, InputKind::Gzip(_))
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            InputKind::Plain(r) => r.read(out),
            InputKind::Gzip(r) => r.read(out),
        }
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match &mut self.0 {
            InputKind::Plain(r) => r.fill_buf(),
            InputKind::Gzip(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, n: usize) {
        match &mut self.0 {
            InputKind::Plain(r) => r.consume(n),
            InputKind::Gzip(r) => r.consume(n),
        }
    }
}

impl<R: Read> Reader<Input<R>> {
    /// Whether [`open`] found gzip.
    pub fn is_gzip(&self) -> bool {
        self.source().is_gzip()
    }
}

/// Wraps a guide source in a [`Reader`], inflating it (all gzip members)
/// when it starts with the gzip magic, whatever its name says.
pub fn open<R: Read>(mut r: R) -> Result<Reader<Input<R>>, XmltvError> {
    let mut magic = Vec::with_capacity(2);
    while magic.len() < 2 {
        let mut byte = [0u8; 2];
        let want = 2 - magic.len();
        match r.read(&mut byte[..want]) {
            Ok(0) => break,
            Ok(n) => magic.extend_from_slice(&byte[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(XmltvError::Io {
                    line: 1,
                    offset: 0,
                    source: Arc::new(e),
                });
            }
        }
    }
    let gzip = crate::providers::is_gzip(&magic);
    let source = Cursor::new(magic).chain(r);
    let kind = if gzip {
        InputKind::Gzip(BufReader::with_capacity(
            64 * 1024,
            MultiGzDecoder::new(source),
        ))
    } else {
        InputKind::Plain(BufReader::with_capacity(64 * 1024, source))
    };
    Ok(Reader::new(Input(kind)))
}
