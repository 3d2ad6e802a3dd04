//! The HDHomeRun identity: a DeviceID with a valid check digit, generated
//! once and stored, so Plex, UDP discovery and `hdhomerun_config` see the
//! same stable device across restarts.

use std::net::SocketAddr;

use crate::store::{Store, StoreError};

const CHECK_TABLE: [u32; 16] = [
    0xA, 0x5, 0xF, 0x6, 0x7, 0xC, 0x1, 0xB, 0x9, 0x2, 0x8, 0xD, 0x4, 0x3, 0xE, 0x0,
];

/// The XOR of the seven check terms over nibbles n7..n1 (n0 excluded).
fn check_terms(id: u32) -> u32 {
    let n = |i: u32| (id >> (4 * i)) & 0xF;
    CHECK_TABLE[n(7) as usize]
        ^ n(6)
        ^ CHECK_TABLE[n(5) as usize]
        ^ n(4)
        ^ CHECK_TABLE[n(3) as usize]
        ^ n(2)
        ^ CHECK_TABLE[n(1) as usize]
}

/// Whether `id` has a valid HDHomeRun check digit.
pub fn device_id_valid(id: u32) -> bool {
    check_terms(id) ^ (id & 0xF) == 0
}

/// Sets the last nibble of `id` so that its check digit is valid.
pub fn with_check_digit(id: u32) -> u32 {
    let base = id & !0xF;
    base | check_terms(base)
}

#[derive(Debug, Clone)]
pub struct Device {
    pub device_id: u32,
    pub friendly_name: String,
    pub device_auth: String,
    /// The bound HTTP address (set by `run` once the listener exists), so
    /// advertised URLs carry the real port even when the config says `:0`.
    pub http_addr: Option<SocketAddr>,
}

impl Device {
    pub fn id_hex(&self) -> String {
        format!("{:08X}", self.device_id)
    }

    /// The UPnP UDN (without `uuid:`), derived from the DeviceID so it is
    /// as stable as the ID itself.
    pub fn udn(&self) -> String {
        format!(
            "{:08x}-5354-4652-8000-{:012x}",
            self.device_id,
            u64::from(self.device_id)
        )
    }

    /// Records where the HTTP server listens.
    pub fn serving_at(mut self, addr: SocketAddr) -> Self {
        self.http_addr = Some(addr);
        self
    }

    /// Loads the stored identity or creates and stores a new one.
    pub async fn load_or_create(store: &Store, friendly_name: &str) -> Result<Self, StoreError> {
        let id = match store
            .get_kv("device_id")
            .await?
            .and_then(|s| u32::from_str_radix(&s, 16).ok())
        {
            Some(id) if device_id_valid(id) => id,
            _ => {
                // 0x1xxxxxxx like real tuners; random middle, valid check digit.
                let id = with_check_digit(0x1000_0000 | (rand::random::<u32>() & 0x0FFF_FFF0));
                store.set_kv("device_id", &format!("{id:08X}")).await?;
                id
            }
        };
        let auth = match store.get_kv("device_auth").await? {
            Some(a) => a,
            None => {
                let a: String = (0..24)
                    .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
                    .collect();
                store.set_kv("device_auth", &a).await?;
                a
            }
        };
        Ok(Self {
            device_id: id,
            friendly_name: friendly_name.to_string(),
            device_auth: auth,
            http_addr: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vectors() {
        for ok in [0x10439EFD, 0x10811DF5, 0x105404BE] {
            assert!(device_id_valid(ok), "{ok:08X}");
            assert_eq!(with_check_digit(ok), ok);
        }
        assert!(!device_id_valid(0x12345678));
    }
}
