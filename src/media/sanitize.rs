//! Corrupt input stays out of the muxer. Per input, between the demuxer
//! and the splice: packets the demuxer flags corrupt (a PES with a
//! continuity break or cut short) are dropped; each stream's newest packet
//! is held back until the next one of that stream shows no discontinuity,
//! so the frame an encoder restart or a byte-stream jump cut short is
//! dropped; and for a short window after such a jump every audio packet is
//! decoded and dropped if it does not decode (the AAC parser needs a few
//! frames to find its sync again, and what it hands out meanwhile is
//! garbage: `channel element … is not allocated`). Timestamps are not
//! touched here: the jump itself is absorbed by the remuxer.
//!
//! A 33-bit wrap is a discontinuity of the clock only; nothing is dropped.

use ffmpeg::Packet;
use ffmpeg::codec::Parameters;
use ffmpeg_next as ffmpeg;

use super::remux::{Kind, is_jump};

/// Audio packets decoded after a jump (about 1 s of AAC at 48 kHz).
const AUDIO_CHECK_PACKETS: u32 = 48;
/// A step within this of ±2^33 is a wrap of the 33-bit clock.
const WRAP_SLACK: i64 = 10 * 90_000;

/// What broke inside an input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Discontinuity {
    pub kind: Kind,
    /// `timestamp_jump`, `wrap` or `corrupt`.
    pub cause: &'static str,
    /// Input DTS step in ms (0 for `corrupt`).
    pub jump_ms: f64,
}

/// One input's filter. Owned by whoever reads the input (the session).
pub struct Sanitizer {
    last_in: [Option<i64>; 2],
    held: [Option<Packet>; 2],
    audio: Option<Parameters>,
    check: Option<(ffmpeg::decoder::Audio, u32)>,
    /// Packets dropped as corrupt or cut short.
    pub dropped: u64,
}

impl Sanitizer {
    /// `audio`: the input's mapped audio stream parameters (for the
    /// decode check after a jump).
    pub fn new(audio: Option<Parameters>) -> Self {
        Self {
            last_in: [None; 2],
            held: [None, None],
            audio,
            check: None,
            dropped: 0,
        }
    }

    /// Takes a prepared packet (90 kHz); returns the packet of the same
    /// stream it held back, if that one is fit for the muxer, and the
    /// discontinuity this packet revealed.
    pub fn push(&mut self, kind: Kind, pkt: Packet) -> (Option<Packet>, Option<Discontinuity>) {
        let i = kind as usize;
        if pkt.is_corrupt() {
            self.dropped += 1;
            let d = Discontinuity {
                kind,
                cause: "corrupt",
                jump_ms: 0.0,
            };
            return (None, Some(d));
        }
        let mut disc = None;
        if let (Some(last), Some(dts)) = (self.last_in[i], pkt.dts()) {
            let step = dts - last;
            if is_jump(step) {
                let wrap = (step + (1i64 << 33)).abs() <= WRAP_SLACK
                    || (step - (1i64 << 33)).abs() <= WRAP_SLACK;
                disc = Some(Discontinuity {
                    kind,
                    cause: if wrap { "wrap" } else { "timestamp_jump" },
                    jump_ms: step as f64 / 90.0,
                });
                if !wrap {
                    // The last packet before the jump may be cut short.
                    if self.held[i].take().is_some() {
                        self.dropped += 1;
                    }
                    if kind == Kind::Audio {
                        self.check = self
                            .audio
                            .clone()
                            .and_then(open_decoder)
                            .map(|d| (d, AUDIO_CHECK_PACKETS));
                    }
                }
            }
        }
        if let Some(dts) = pkt.dts() {
            self.last_in[i] = Some(dts);
        }
        if kind == Kind::Audio
            && let Some((dec, left)) = self.check.as_mut()
        {
            let ok = decodes(dec, &pkt);
            *left -= 1;
            if *left == 0 {
                self.check = None;
            }
            if !ok {
                self.dropped += 1;
                return (self.held[i].take(), disc);
            }
        }
        (self.held[i].replace(pkt), disc)
    }
}

fn open_decoder(params: Parameters) -> Option<ffmpeg::decoder::Audio> {
    let ctx = ffmpeg::codec::context::Context::from_parameters(params).ok()?;
    ctx.decoder().audio().ok()
}

/// Whether the decoder takes `pkt` without an error.
fn decodes(dec: &mut ffmpeg::decoder::Audio, pkt: &Packet) -> bool {
    if dec.send_packet(pkt).is_err() {
        return false;
    }
    let mut frame = ffmpeg::frame::Audio::empty();
    loop {
        match dec.receive_frame(&mut frame) {
            Ok(()) => continue,
            Err(ffmpeg::Error::Other { errno: 11 }) | Err(ffmpeg::Error::Eof) => return true,
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(dts: i64, corrupt: bool) -> Packet {
        let mut p = Packet::copy(&[0u8; 16]);
        p.set_dts(Some(dts));
        p.set_pts(Some(dts));
        if corrupt {
            p.set_flags(ffmpeg::codec::packet::Flags::CORRUPT);
        }
        p
    }

    #[test]
    fn holds_one_packet_per_stream_and_drops_the_one_cut_by_a_jump() {
        let mut s = Sanitizer::new(None);
        assert!(s.push(Kind::Video, pkt(1000, false)).0.is_none());
        let (out, d) = s.push(Kind::Video, pkt(4600, false));
        assert_eq!(out.and_then(|p| p.dts()), Some(1000));
        assert!(d.is_none());
        // An encoder restart: back by 12 s. The packet before is dropped.
        let (out, d) = s.push(Kind::Video, pkt(4600 - 12 * 90_000, false));
        assert!(out.is_none());
        let d = d.expect("discontinuity");
        assert_eq!((d.cause, d.jump_ms), ("timestamp_jump", -12_000.0));
        assert_eq!(s.dropped, 1);
    }

    #[test]
    fn corrupt_packets_are_dropped_and_wraps_drop_nothing() {
        let mut s = Sanitizer::new(None);
        s.push(Kind::Audio, pkt((1 << 33) - 1920, false));
        let (out, d) = s.push(Kind::Audio, pkt(0, false));
        assert!(out.is_some(), "a wrap keeps the packet before it");
        assert_eq!(d.map(|d| d.cause), Some("wrap"));
        let (out, d) = s.push(Kind::Audio, pkt(1920, true));
        assert!(out.is_none());
        assert_eq!(d.map(|d| d.cause), Some("corrupt"));
        assert_eq!(s.dropped, 1);
        // The held packet is still released by the next good one.
        assert_eq!(
            s.push(Kind::Audio, pkt(3840, false))
                .0
                .and_then(|p| p.dts()),
            Some(0)
        );
    }
}
