//! The SiliconDust UDP discovery codec (port 65001): frames, TLVs, the
//! discover request and reply, and the matching rule. Pure and I/O-free:
//! bytes in, values or a typed error out. The socket loop lives in
//! `udp.rs`. Format: SiliconDust's libhdhomerun (`hdhomerun_pkt.h`);
//! test vectors in the tests below.

/// Largest frame a device sends or accepts.
pub const MAX_FRAME: usize = 1460;

pub const TYPE_DISCOVER_REQ: u16 = 0x0002;
pub const TYPE_DISCOVER_RPY: u16 = 0x0003;

pub const TAG_DEVICE_TYPE: u8 = 0x01;
pub const TAG_DEVICE_ID: u8 = 0x02;
pub const TAG_TUNER_COUNT: u8 = 0x10;
pub const TAG_LINEUP_URL: u8 = 0x27;
pub const TAG_BASE_URL: u8 = 0x2A;
pub const TAG_DEVICE_AUTH: u8 = 0x2B;
pub const TAG_MULTI_TYPE: u8 = 0x2D;

pub const DEVICE_TYPE_TUNER: u32 = 0x0000_0001;
pub const WILDCARD: u32 = 0xFFFF_FFFF;

/// Frame header (type, length) plus CRC.
const OVERHEAD: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame of {len} bytes is shorter than the 8-byte minimum")]
    Short { len: usize },
    #[error("frame of {len} bytes exceeds the {MAX_FRAME}-byte maximum")]
    TooLong { len: usize },
    #[error("payload length field {declared} does not match the {actual} payload bytes received")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("CRC mismatch: frame says {received:08x}, computed {computed:08x}")]
    Crc { received: u32, computed: u32 },
    #[error("TLV at payload offset {offset} is truncated")]
    TruncatedTlv { offset: usize },
    #[error("tag {tag:#04x} at payload offset {offset} has length {len}, expected {expected}")]
    BadValueLength {
        tag: u8,
        offset: usize,
        len: usize,
        expected: &'static str,
    },
    #[error("frame type {0:#06x} is not the expected one")]
    UnexpectedType(u16),
    #[error("reply lacks tag {0:#04x}")]
    Missing(u8),
    #[error("tag {tag:#04x} holds text that is not UTF-8")]
    NotUtf8 { tag: u8 },
}

/// Wraps `payload` in a frame: type, length, payload, CRC-32 (LE). A
/// payload over 65535 bytes (which no caller builds) is cut to fit the
/// length field.
pub fn encode_frame(packet_type: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(payload.len() + OVERHEAD);
    out.extend_from_slice(&packet_type.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&payload[..usize::from(len)]);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks size, length field and CRC; returns the type and the payload.
pub fn decode_frame(frame: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    if frame.len() < OVERHEAD {
        return Err(DecodeError::Short { len: frame.len() });
    }
    if frame.len() > MAX_FRAME {
        return Err(DecodeError::TooLong { len: frame.len() });
    }
    let packet_type = u16::from_be_bytes([frame[0], frame[1]]);
    let declared = usize::from(u16::from_be_bytes([frame[2], frame[3]]));
    let actual = frame.len() - OVERHEAD;
    if declared != actual {
        return Err(DecodeError::LengthMismatch { declared, actual });
    }
    let (body, crc) = frame.split_at(frame.len() - 4);
    let received = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = crc32fast::hash(body);
    if received != computed {
        return Err(DecodeError::Crc { received, computed });
    }
    Ok((packet_type, &body[4..]))
}

/// One tag-length-value item borrowed from a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    /// Offset of the tag byte in the payload (for error messages).
    pub offset: usize,
}

/// Iterates the TLVs of a payload; yields an error (then stops) on a
/// truncated item.
pub struct Tlvs<'a> {
    payload: &'a [u8],
    pos: usize,
    failed: bool,
}

pub fn tlvs(payload: &[u8]) -> Tlvs<'_> {
    Tlvs {
        payload,
        pos: 0,
        failed: false,
    }
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = Result<Tlv<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.payload.len() {
            return None;
        }
        let offset = self.pos;
        let rest = &self.payload[offset..];
        let truncated = || DecodeError::TruncatedTlv { offset };
        let parsed = (|| {
            let tag = *rest.first()?;
            let b0 = usize::from(*rest.get(1)?);
            let (len, header): (usize, usize) = if b0 & 0x80 == 0 {
                (b0, 2)
            } else {
                let b1 = usize::from(*rest.get(2)?);
                ((b0 & 0x7F) | (b1 << 7), 3)
            };
            let value = rest.get(header..header.checked_add(len)?)?;
            Some((tag, value, header + len))
        })();
        match parsed {
            Some((tag, value, used)) => {
                self.pos += used;
                Some(Ok(Tlv { tag, value, offset }))
            }
            None => {
                self.failed = true;
                Some(Err(truncated()))
            }
        }
    }
}

/// Appends one TLV, with the one- or two-byte length form.
pub fn push_tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    let len = value.len();
    if len <= 127 {
        out.push(len as u8);
    } else {
        out.push(((len & 0x7F) | 0x80) as u8);
        out.push((len >> 7) as u8);
    }
    out.extend_from_slice(value);
}

fn be_u32(tag: u8, t: &Tlv<'_>) -> Result<u32, DecodeError> {
    <[u8; 4]>::try_from(t.value)
        .map(u32::from_be_bytes)
        .map_err(|_| DecodeError::BadValueLength {
            tag,
            offset: t.offset,
            len: t.value.len(),
            expected: "4",
        })
}

/// A parsed discover request. Absent fields mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub device_type: Option<u32>,
    /// From tag 0x2D; empty when absent.
    pub multi_types: Vec<u32>,
    pub device_id: Option<u32>,
}

impl Request {
    /// Parses a whole frame; unknown tags are skipped.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        let (packet_type, payload) = decode_frame(frame)?;
        if packet_type != TYPE_DISCOVER_REQ {
            return Err(DecodeError::UnexpectedType(packet_type));
        }
        let mut req = Request::default();
        for t in tlvs(payload) {
            let t = t?;
            match t.tag {
                TAG_DEVICE_TYPE => req.device_type = Some(be_u32(t.tag, &t)?),
                TAG_DEVICE_ID => req.device_id = Some(be_u32(t.tag, &t)?),
                TAG_MULTI_TYPE => {
                    if t.value.len() % 4 != 0 {
                        return Err(DecodeError::BadValueLength {
                            tag: t.tag,
                            offset: t.offset,
                            len: t.value.len(),
                            expected: "a multiple of 4",
                        });
                    }
                    req.multi_types.extend(
                        t.value
                            .chunks_exact(4)
                            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
                    );
                }
                _ => {}
            }
        }
        Ok(req)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        if let Some(t) = self.device_type {
            push_tlv(&mut p, TAG_DEVICE_TYPE, &t.to_be_bytes());
        }
        if let Some(id) = self.device_id {
            push_tlv(&mut p, TAG_DEVICE_ID, &id.to_be_bytes());
        }
        if !self.multi_types.is_empty() {
            let v: Vec<u8> = self
                .multi_types
                .iter()
                .flat_map(|t| t.to_be_bytes())
                .collect();
            push_tlv(&mut p, TAG_MULTI_TYPE, &v);
        }
        encode_frame(TYPE_DISCOVER_REQ, &p)
    }

    /// Whether a tuner with id `ours` must answer: the type is absent,
    /// tuner, the wildcard or a multi-type list holding tuner, and the id
    /// is absent, the wildcard or ours.
    pub fn matches(&self, ours: u32) -> bool {
        let type_ok = match self.device_type {
            None => self.multi_types.is_empty() || self.multi_types.contains(&DEVICE_TYPE_TUNER),
            Some(t) => {
                t == DEVICE_TYPE_TUNER
                    || t == WILDCARD
                    || self.multi_types.contains(&DEVICE_TYPE_TUNER)
            }
        };
        let id_ok = matches!(self.device_id, None | Some(WILDCARD)) || self.device_id == Some(ours);
        type_ok && id_ok
    }
}

/// A discover reply: what `hdhomerun_config` and Plex read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub device_id: u32,
    pub tuner_count: u8,
    pub base_url: String,
    pub lineup_url: String,
}

impl Reply {
    /// Type tuner, id, tuner count, base URL, lineup URL, in that order
    /// (the order of the published vector). URLs longer than the frame
    /// allows are cut, which only a misconfigured public_url can cause.
    pub fn encode(&self) -> Vec<u8> {
        const URL_MAX: usize = 600;
        let cut = |s: &str| -> Vec<u8> {
            let mut end = s.len().min(URL_MAX);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.as_bytes()[..end].to_vec()
        };
        let mut p = Vec::with_capacity(96);
        push_tlv(&mut p, TAG_DEVICE_TYPE, &DEVICE_TYPE_TUNER.to_be_bytes());
        push_tlv(&mut p, TAG_DEVICE_ID, &self.device_id.to_be_bytes());
        push_tlv(&mut p, TAG_TUNER_COUNT, &[self.tuner_count]);
        push_tlv(&mut p, TAG_BASE_URL, &cut(&self.base_url));
        push_tlv(&mut p, TAG_LINEUP_URL, &cut(&self.lineup_url));
        encode_frame(TYPE_DISCOVER_RPY, &p)
    }

    /// Parses a reply frame (tests, and a client-side check).
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        let (packet_type, payload) = decode_frame(frame)?;
        if packet_type != TYPE_DISCOVER_RPY {
            return Err(DecodeError::UnexpectedType(packet_type));
        }
        let (mut id, mut tuners, mut base, mut lineup) = (None, None, None, None);
        let text = |t: &Tlv<'_>| {
            String::from_utf8(t.value.to_vec()).map_err(|_| DecodeError::NotUtf8 { tag: t.tag })
        };
        for t in tlvs(payload) {
            let t = t?;
            match t.tag {
                TAG_DEVICE_ID => id = Some(be_u32(t.tag, &t)?),
                TAG_TUNER_COUNT => match t.value {
                    [n] => tuners = Some(*n),
                    _ => {
                        return Err(DecodeError::BadValueLength {
                            tag: t.tag,
                            offset: t.offset,
                            len: t.value.len(),
                            expected: "1",
                        });
                    }
                },
                TAG_BASE_URL => base = Some(text(&t)?),
                TAG_LINEUP_URL => lineup = Some(text(&t)?),
                _ => {}
            }
        }
        Ok(Reply {
            device_id: id.ok_or(DecodeError::Missing(TAG_DEVICE_ID))?,
            tuner_count: tuners.ok_or(DecodeError::Missing(TAG_TUNER_COUNT))?,
            base_url: base.ok_or(DecodeError::Missing(TAG_BASE_URL))?,
            lineup_url: lineup.unwrap_or_default(),
        })
    }
}

/// The whole responder decision: `Some(reply frame)` when `frame` is a
/// valid discover request meant for device `ours`, `None` otherwise.
pub fn respond(
    frame: &[u8],
    ours: u32,
    reply: impl FnOnce() -> Reply,
) -> Result<Option<Vec<u8>>, DecodeError> {
    let req = Request::decode(frame)?;
    Ok(req.matches(ours).then(|| reply().encode()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const REQ_TUNER: &str = "0002000c0104000000010204ffffffff4e507f35";
    const REQ_DEBIAN: &str = "0002000c0104ffffffff0204ffffffff73cc7d8f";
    const RPY: &str = "000300490104000000010204105404be1001022a15687474703a2f2f3132372e302e302e313a353030342721687474703a2f2f3132372e302e302e313a353030342f6c696e6575702e6a736f6ec0fbe6f3";

    fn vector_reply() -> Reply {
        Reply {
            device_id: 0x105404BE,
            tuner_count: 2,
            base_url: "http://127.0.0.1:5004".into(),
            lineup_url: "http://127.0.0.1:5004/lineup.json".into(),
        }
    }

    #[test]
    fn published_request_vectors_round_trip() {
        let tuner = Request {
            device_type: Some(DEVICE_TYPE_TUNER),
            device_id: Some(WILDCARD),
            multi_types: vec![],
        };
        assert_eq!(Request::decode(&hex(REQ_TUNER)).unwrap(), tuner);
        assert_eq!(tuner.encode(), hex(REQ_TUNER));
        let debian = Request {
            device_type: Some(WILDCARD),
            device_id: Some(WILDCARD),
            multi_types: vec![],
        };
        assert_eq!(Request::decode(&hex(REQ_DEBIAN)).unwrap(), debian);
        assert_eq!(debian.encode(), hex(REQ_DEBIAN));
    }

    #[test]
    fn published_reply_vector_round_trips() {
        assert_eq!(vector_reply().encode(), hex(RPY));
        assert_eq!(Reply::decode(&hex(RPY)).unwrap(), vector_reply());
    }

    #[test]
    fn responds_to_both_published_requests() {
        for req in [REQ_TUNER, REQ_DEBIAN] {
            let out = respond(&hex(req), 0x105404BE, vector_reply).unwrap();
            assert_eq!(out, Some(hex(RPY)), "{req}");
        }
    }

    #[test]
    fn matching_rule() {
        let ours = 0x105404BE;
        let r = |device_type, device_id, multi: &[u32]| Request {
            device_type,
            device_id,
            multi_types: multi.to_vec(),
        };
        assert!(r(None, None, &[]).matches(ours));
        assert!(r(Some(1), Some(ours), &[]).matches(ours));
        assert!(r(Some(WILDCARD), None, &[]).matches(ours));
        assert!(r(None, None, &[5, 1]).matches(ours));
        assert!(!r(None, None, &[5]).matches(ours));
        assert!(!r(Some(5), None, &[]).matches(ours), "storage type");
        assert!(!r(None, Some(0x10439EFD), &[]).matches(ours), "another id");
    }

    #[test]
    fn bad_crc_and_lengths_are_errors() {
        let mut f = hex(REQ_TUNER);
        *f.last_mut().unwrap() ^= 1;
        assert!(matches!(Request::decode(&f), Err(DecodeError::Crc { .. })));
        assert!(matches!(
            decode_frame(&[0, 2, 0]),
            Err(DecodeError::Short { len: 3 })
        ));
        assert!(matches!(
            decode_frame(&vec![0; MAX_FRAME + 1]),
            Err(DecodeError::TooLong { .. })
        ));
        let f = hex(REQ_TUNER);
        assert!(matches!(
            decode_frame(&f[..f.len() - 1]),
            Err(DecodeError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn truncated_and_oversized_tlvs_are_errors() {
        // Declares 0x7f bytes, holds 2.
        let f = encode_frame(TYPE_DISCOVER_REQ, &[TAG_DEVICE_ID, 0x7f, 1, 2]);
        assert_eq!(
            Request::decode(&f),
            Err(DecodeError::TruncatedTlv { offset: 0 })
        );
        // Two-byte length with its second byte missing.
        let f = encode_frame(TYPE_DISCOVER_REQ, &[0x44, 0x80]);
        assert_eq!(
            Request::decode(&f),
            Err(DecodeError::TruncatedTlv { offset: 0 })
        );
        // Device id of the wrong size.
        let f = encode_frame(TYPE_DISCOVER_REQ, &[TAG_DEVICE_ID, 2, 1, 2]);
        assert!(matches!(
            Request::decode(&f),
            Err(DecodeError::BadValueLength {
                tag: TAG_DEVICE_ID,
                ..
            })
        ));
        // Reply type is not a request.
        assert_eq!(
            Request::decode(&hex(RPY)),
            Err(DecodeError::UnexpectedType(TYPE_DISCOVER_RPY))
        );
    }

    #[test]
    fn unknown_tags_are_skipped() {
        let mut p = Vec::new();
        push_tlv(&mut p, 0x77, &[9; 200]); // two-byte length form
        push_tlv(&mut p, TAG_DEVICE_TYPE, &DEVICE_TYPE_TUNER.to_be_bytes());
        let req = Request::decode(&encode_frame(TYPE_DISCOVER_REQ, &p)).unwrap();
        assert_eq!(req.device_type, Some(DEVICE_TYPE_TUNER));
    }

    #[test]
    fn long_lengths_use_two_bytes() {
        for len in [0usize, 1, 127, 128, 129, 300, 1400] {
            let mut p = Vec::new();
            push_tlv(&mut p, 0x27, &vec![b'a'; len]);
            let items: Vec<_> = tlvs(&p).collect::<Result<_, _>>().unwrap();
            assert_eq!(items.len(), 1);
            assert_eq!(items[0].value.len(), len);
            assert_eq!(p.len(), len + if len <= 127 { 2 } else { 3 });
        }
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let _ = Request::decode(&bytes);
            let _ = Reply::decode(&bytes);
            let _ = respond(&bytes, 0x105404BE, vector_reply);
            for t in tlvs(&bytes) { let _ = t; }
        }

        /// Garbage payloads in frames with a valid CRC reach the TLV parser.
        #[test]
        fn framed_garbage_never_panics(ty in prop_oneof![Just(TYPE_DISCOVER_REQ), Just(TYPE_DISCOVER_RPY), any::<u16>()],
                                       payload in proptest::collection::vec(any::<u8>(), 0..1452)) {
            let f = encode_frame(ty, &payload);
            let _ = Request::decode(&f);
            let _ = Reply::decode(&f);
            prop_assert!(decode_frame(&f).is_ok());
        }

        /// Every single-bit flip of a valid request is rejected or decodes
        /// to something; it never panics, and a flip in the CRC'd part is caught.
        #[test]
        fn bit_flips_are_caught(bit in 0usize..(20 * 8)) {
            let mut f = hex(REQ_TUNER);
            f[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(Request::decode(&f).is_err());
        }

        #[test]
        fn requests_round_trip(device_type in proptest::option::of(any::<u32>()),
                               device_id in proptest::option::of(any::<u32>()),
                               multi_types in proptest::collection::vec(any::<u32>(), 0..40)) {
            let req = Request { device_type, device_id, multi_types };
            prop_assert_eq!(Request::decode(&req.encode()).unwrap(), req);
        }

        #[test]
        fn replies_round_trip(device_id in any::<u32>(), tuner_count in any::<u8>(),
                              base in "[ -~]{0,300}", lineup in "[ -~]{0,300}") {
            let r = Reply { device_id, tuner_count, base_url: base, lineup_url: lineup };
            let f = r.encode();
            prop_assert!(f.len() <= MAX_FRAME);
            prop_assert_eq!(Reply::decode(&f).unwrap(), r);
        }
    }
}
