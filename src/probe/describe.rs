//! What a stream is, as `ffprobe -show_format -show_streams -show_programs`
//! reports it: the same field names and value formats (numbers FFmpeg
//! prints as strings stay strings: `"48000"`, `"1.480000"`, `"25/1"`), read
//! from the opened `AVFormatContext`. Fields whose meaning differs from
//! ffprobe's get their own names (`stream_indexes`).

use std::collections::BTreeMap;
use std::ffi::CStr;

use ffmpeg::ffi;
use ffmpeg::format::context::Input;
use ffmpeg::media::Type as MediaType;
use ffmpeg_next as ffmpeg;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Format {
    pub filename: String,
    pub nb_streams: u32,
    pub nb_programs: u32,
    pub format_name: String,
    pub format_long_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<String>,
    pub probe_score: i32,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Program {
    pub program_id: i32,
    pub program_num: i32,
    pub nb_streams: u32,
    pub pmt_pid: i32,
    pub pcr_pid: i32,
    /// Indexes into `streams` (ffprobe nests whole stream objects here).
    pub stream_indexes: Vec<u32>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Stream {
    pub index: usize,
    pub codec_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_long_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub codec_type: String,
    pub codec_tag_string: String,
    pub codec_tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_b_frames: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_aspect_ratio: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pix_fmt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_fmt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_layout: Option<String>,
    /// The container's stream id (the PID for MPEG-TS), as `"0x100"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub r_frame_rate: String,
    pub avg_frame_rate: String,
    pub time_base: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_pts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// ffprobe's `%f` of a timestamp in `num/den` units.
fn seconds(ts: i64, num: i32, den: i32) -> Option<String> {
    (ts != ffi::AV_NOPTS_VALUE && den != 0)
        .then(|| format!("{:.6}", ts as f64 * f64::from(num) / f64::from(den)))
}

/// # Safety
/// `p` must be null or a valid NUL-terminated string that outlives the call.
unsafe fn string(p: *const std::ffi::c_char) -> Option<String> {
    // SAFETY: guaranteed by the caller.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// ffprobe's `av_fourcc_make_string`.
fn fourcc(tag: u32) -> String {
    tag.to_le_bytes()
        .iter()
        .map(|&c| {
            if c.is_ascii_alphanumeric() || b". _-".contains(&c) {
                (c as char).to_string()
            } else {
                format!("[{c}]")
            }
        })
        .collect()
}

fn tags(d: ffmpeg::DictionaryRef<'_>) -> BTreeMap<String, String> {
    d.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Reads the format and streams of an opened input. `filename` is what the
/// report shows (already redacted).
pub fn describe(input: &Input, filename: &str) -> (Format, Vec<Program>, Vec<Stream>) {
    // SAFETY: `input` owns a valid, opened AVFormatContext for the whole
    // call; we read plain fields, the iformat (static), the programs array
    // (nb_programs valid pointers) and the IO context when present.
    let (format, programs, show_ids) = unsafe {
        let ctx = input.as_ptr();
        let iformat = (*ctx).iformat;
        let (name, long_name, flags) = if iformat.is_null() {
            (String::new(), String::new(), 0)
        } else {
            (
                string((*iformat).name).unwrap_or_default(),
                string((*iformat).long_name).unwrap_or_default(),
                (*iformat).flags,
            )
        };
        let pb = (*ctx).pb;
        let size = if pb.is_null() { -1 } else { ffi::avio_size(pb) };
        let format = Format {
            filename: filename.to_string(),
            nb_streams: (*ctx).nb_streams,
            nb_programs: (*ctx).nb_programs,
            format_name: name,
            format_long_name: long_name,
            start_time: seconds((*ctx).start_time, 1, ffi::AV_TIME_BASE),
            duration: seconds((*ctx).duration, 1, ffi::AV_TIME_BASE),
            size: (size > 0).then(|| size.to_string()),
            bit_rate: ((*ctx).bit_rate > 0).then(|| (*ctx).bit_rate.to_string()),
            probe_score: input.probe_score(),
            tags: tags(input.metadata()),
        };
        let mut programs = Vec::new();
        for i in 0..(*ctx).nb_programs as usize {
            let p = *(*ctx).programs.add(i);
            if p.is_null() {
                continue;
            }
            let idx =
                std::slice::from_raw_parts((*p).stream_index, (*p).nb_stream_indexes as usize)
                    .to_vec();
            programs.push(Program {
                program_id: (*p).id,
                program_num: (*p).program_num,
                nb_streams: (*p).nb_stream_indexes,
                pmt_pid: (*p).pmt_pid,
                pcr_pid: (*p).pcr_pid,
                stream_indexes: idx,
                tags: tags(ffmpeg::DictionaryRef::wrap((*p).metadata)),
            });
        }
        (format, programs, flags & ffi::AVFMT_SHOW_IDS != 0)
    };
    let streams = input.streams().map(|s| stream(&s, show_ids)).collect();
    (format, programs, streams)
}

/// `av_get_pix_fmt_name` for the `int` format of codec parameters.
fn pix_fmt_name(v: i32) -> Option<String> {
    if !(0..ffi::AVPixelFormat::AV_PIX_FMT_NB as i32).contains(&v) {
        return None;
    }
    // SAFETY: the enum is `repr(i32)` with every value from NONE (-1) to NB
    // defined (bindgen output for this FFmpeg), and `v` is in that range;
    // the name is a static string or null.
    unsafe {
        string(ffi::av_get_pix_fmt_name(std::mem::transmute::<
            i32,
            ffi::AVPixelFormat,
        >(v)))
    }
}

/// `av_get_sample_fmt_name` for the `int` format of codec parameters.
fn sample_fmt_name(v: i32) -> Option<String> {
    if !(0..ffi::AVSampleFormat::AV_SAMPLE_FMT_NB as i32).contains(&v) {
        return None;
    }
    // SAFETY: as in `pix_fmt_name`.
    unsafe {
        string(ffi::av_get_sample_fmt_name(std::mem::transmute::<
            i32,
            ffi::AVSampleFormat,
        >(v)))
    }
}

fn rational(r: ffmpeg::Rational) -> String {
    format!("{}/{}", r.numerator(), r.denominator())
}

fn stream(s: &ffmpeg::format::stream::Stream<'_>, show_ids: bool) -> Stream {
    let par = s.parameters();
    let medium = par.medium();
    let tb = s.time_base();
    let (num, den) = (tb.numerator(), tb.denominator());
    let codec_type = match medium {
        MediaType::Video => "video",
        MediaType::Audio => "audio",
        MediaType::Subtitle => "subtitle",
        MediaType::Data => "data",
        MediaType::Attachment => "attachment",
        MediaType::Unknown => "unknown",
    };
    let mut out = Stream {
        index: s.index(),
        codec_type: codec_type.to_string(),
        id: show_ids.then(|| format!("{:#x}", s.id())),
        r_frame_rate: rational(s.rate()),
        avg_frame_rate: rational(s.avg_frame_rate()),
        time_base: rational(tb),
        start_pts: (s.start_time() != ffi::AV_NOPTS_VALUE).then(|| s.start_time()),
        start_time: seconds(s.start_time(), num, den),
        duration_ts: (s.duration() != ffi::AV_NOPTS_VALUE).then(|| s.duration()),
        duration: seconds(s.duration(), num, den),
        tags: tags(s.metadata()),
        ..Stream::default()
    };
    // SAFETY: `par` wraps the stream's valid AVCodecParameters; the name
    // lookups return static strings or null, and `av_channel_layout_describe`
    // writes at most `buf.len()` bytes into `buf`, NUL-terminated.
    unsafe {
        let p = par.as_ptr();
        let id = (*p).codec_id;
        out.codec_name = string(ffi::avcodec_get_name(id)).unwrap_or_else(|| "unknown".into());
        let desc = ffi::avcodec_descriptor_get(id);
        out.codec_long_name = if desc.is_null() {
            None
        } else {
            string((*desc).long_name)
        };
        out.profile = string(ffi::avcodec_profile_name(id, (*p).profile));
        out.codec_tag_string = fourcc((*p).codec_tag);
        out.codec_tag = format!("0x{:04x}", (*p).codec_tag);
        out.bit_rate = ((*p).bit_rate > 0).then(|| (*p).bit_rate.to_string());
        match medium {
            MediaType::Video => {
                out.width = Some((*p).width);
                out.height = Some((*p).height);
                out.has_b_frames = Some((*p).video_delay);
                let sar = (*p).sample_aspect_ratio;
                out.sample_aspect_ratio =
                    (sar.num != 0).then(|| format!("{}:{}", sar.num, sar.den));
                out.pix_fmt = pix_fmt_name((*p).format);
                out.level = Some((*p).level);
            }
            MediaType::Audio => {
                out.sample_fmt = sample_fmt_name((*p).format);
                out.sample_rate = Some((*p).sample_rate.to_string());
                out.channels = Some((*p).ch_layout.nb_channels);
                let mut buf = [0 as std::ffi::c_char; 128];
                if (*p).ch_layout.nb_channels > 0
                    && ffi::av_channel_layout_describe(&(*p).ch_layout, buf.as_mut_ptr(), buf.len())
                        > 0
                {
                    out.channel_layout = string(buf.as_ptr());
                }
            }
            _ => {}
        }
    }
    out
}

impl Stream {
    /// A one-line summary for the human report.
    pub fn summary(&self) -> String {
        let mut parts = vec![match &self.profile {
            Some(p) => format!("{} ({p})", self.codec_name),
            None => self.codec_name.clone(),
        }];
        match self.codec_type.as_str() {
            "video" => {
                if let Some(f) = &self.pix_fmt {
                    parts.push(f.clone());
                }
                if let (Some(w), Some(h)) = (self.width, self.height) {
                    parts.push(format!("{w}x{h}"));
                }
                if let Some(fps) = fps(&self.avg_frame_rate).or_else(|| fps(&self.r_frame_rate)) {
                    parts.push(format!("{} fps", trim_float(fps)));
                }
            }
            "audio" => {
                if let Some(r) = &self.sample_rate {
                    parts.push(format!("{r} Hz"));
                }
                match (&self.channel_layout, self.channels) {
                    (Some(l), _) => parts.push(l.clone()),
                    (None, Some(c)) => parts.push(format!("{c} channels")),
                    _ => {}
                }
                if let Some(f) = &self.sample_fmt {
                    parts.push(f.clone());
                }
            }
            _ => {}
        }
        if let Some(b) = self.bit_rate.as_deref().and_then(|b| b.parse::<u64>().ok()) {
            parts.push(kbps(b));
        }
        if let Some(lang) = self.tags.get("language") {
            parts.push(format!("[{lang}]"));
        }
        parts.join(", ")
    }

    /// "320x180 h264" / "aac" for the channel table.
    pub fn short(&self) -> String {
        match (self.width, self.height) {
            (Some(w), Some(h)) if self.codec_type == "video" => {
                format!("{w}x{h} {}", self.codec_name)
            }
            _ => self.codec_name.clone(),
        }
    }
}

fn fps(r: &str) -> Option<f64> {
    let (n, d) = r.split_once('/')?;
    let (n, d) = (n.parse::<f64>().ok()?, d.parse::<f64>().ok()?);
    (n > 0.0 && d > 0.0).then(|| n / d)
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// "512 kb/s" / "4.20 Mb/s".
pub fn kbps(bps: u64) -> String {
    if bps >= 10_000_000 {
        format!("{:.1} Mb/s", bps as f64 / 1e6)
    } else if bps >= 1_000_000 {
        format!("{:.2} Mb/s", bps as f64 / 1e6)
    } else {
        format!("{} kb/s", (bps + 500) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_like_ffprobe() {
        assert_eq!(fourcc(0x1b), "[27][0][0][0]");
        assert_eq!(fourcc(u32::from_le_bytes(*b"avc1")), "avc1");
    }

    #[test]
    fn seconds_like_ffprobe() {
        assert_eq!(seconds(133200, 1, 90000).as_deref(), Some("1.480000"));
        assert_eq!(seconds(ffi::AV_NOPTS_VALUE, 1, 90000), None);
    }

    #[test]
    fn frame_rate_display() {
        assert_eq!(fps("25/1").map(trim_float).as_deref(), Some("25"));
        assert_eq!(fps("30000/1001").map(trim_float).as_deref(), Some("29.97"));
        assert_eq!(fps("0/0"), None);
    }
}
