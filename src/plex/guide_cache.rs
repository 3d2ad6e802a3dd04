//! The last rendered `/epg.xml` (gzip), kept until the lineup changes.

use bytes::Bytes;
use parking_lot::Mutex;

/// The last rendered guide: (lineup version, gzip bytes). Held for short
/// lookups and swaps only.
#[derive(Default)]
pub struct GuideCache {
    inner: Mutex<Option<(u64, Bytes)>>,
}

impl GuideCache {
    pub fn get(&self, version: u64) -> Option<Bytes> {
        match &*self.inner.lock() {
            Some((v, b)) if *v == version => Some(b.clone()),
            _ => None,
        }
    }

    pub fn put(&self, version: u64, body: Bytes) {
        *self.inner.lock() = Some((version, body));
    }
}
