//! Throughput and memory of the streaming XMLTV reader: writes a guide of
//! about 200 MB (or `MB` from the first argument) to a temporary file,
//! streaming, then parses it with `providers::xmltv::open` and prints MB/s
//! and the growth of the peak RSS (`VmHWM`) across the parse.
//!
//! `nice cargo run --release --example xmltv_parse_bench [MB]`

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::time::Instant;

use streamforge::providers::xmltv::{self, Item};

const CHANNELS: usize = 2_000;

/// `VmHWM` (peak resident set) in KiB, from `/proc/self/status`.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn write_guide(out: &mut impl Write, target: u64) -> std::io::Result<(u64, u64)> {
    let mut written = 0u64;
    let put = |out: &mut dyn Write, s: &str| -> std::io::Result<u64> {
        out.write_all(s.as_bytes())?;
        Ok(s.len() as u64)
    };
    written += put(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tv generator-info-name=\"bench\">\n",
    )?;
    for c in 0..CHANNELS {
        written += put(
            out,
            &format!(
                "  <channel id=\"ch{c}.example\">\n    <display-name lang=\"en\">Channel {c}</display-name>\n    <display-name>{c}</display-name>\n    <lcn>{c}</lcn>\n    <icon src=\"http://logo.example.net/{c}.png\"/>\n  </channel>\n"
            ),
        )?;
    }
    let mut programmes = 0u64;
    let mut slot = 0u64;
    while written < target {
        let c = programmes % CHANNELS as u64;
        if c == 0 {
            slot += 1;
        }
        let (h, m) = ((slot / 2) % 24, (slot % 2) * 30);
        let day = 1 + (slot / 48) % 28;
        written += put(
            out,
            &format!(
                "  <programme start=\"202501{day:02}{h:02}{m:02}00 +0000\" stop=\"202501{day:02}{h:02}{m:02}00 +0100\" channel=\"ch{c}.example\">\n    <title lang=\"en\">Programme {programmes} &amp; friends</title>\n    <sub-title>Episode {slot}</sub-title>\n    <desc lang=\"en\">A description long enough to look like a real one: the cast meets, things happen, and the episode ends on a cliffhanger. Number {programmes}.</desc>\n    <category lang=\"en\">Drama</category>\n    <episode-num system=\"xmltv_ns\">1.{slot}.0/1</episode-num>\n    <rating system=\"VCHIP\"><value>TV-PG</value></rating>\n  </programme>\n"
            ),
        )?;
        programmes += 1;
    }
    written += put(out, "</tv>\n")?;
    Ok((written, programmes))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mb: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200);
    let mut file = tempfile::tempfile()?;
    let t0 = Instant::now();
    let (bytes, programmes) = {
        let mut w = BufWriter::new(&mut file);
        let out = write_guide(&mut w, mb * 1_000_000)?;
        w.flush()?;
        out
    };
    println!(
        "wrote {:.1} MB ({CHANNELS} channels, {programmes} programmes) in {:.1?}",
        bytes as f64 / 1e6,
        t0.elapsed()
    );
    file.rewind()?;

    let before = peak_rss_kib();
    let t0 = Instant::now();
    let mut reader = xmltv::open(File::try_clone(&file)?)?;
    let (mut channels, mut parsed, mut title_bytes) = (0u64, 0u64, 0usize);
    while let Some(item) = reader.next()? {
        match item {
            Item::Channel(_) => channels += 1,
            Item::Programme(p) => {
                parsed += 1;
                title_bytes += p.title.len();
            }
        }
    }
    let elapsed = t0.elapsed();
    let after = peak_rss_kib();
    assert_eq!((channels, parsed), (CHANNELS as u64, programmes));
    println!(
        "parsed {channels} channels, {parsed} programmes ({} skipped, {title_bytes} title bytes) in {elapsed:.2?}: {:.1} MB/s",
        reader.skipped(),
        bytes as f64 / 1e6 / elapsed.as_secs_f64()
    );
    match (before, after) {
        (Some(b), Some(a)) => println!(
            "peak RSS (VmHWM): {:.1} MiB before, {:.1} MiB after, growth {:.1} MiB",
            b as f64 / 1024.0,
            a as f64 / 1024.0,
            a.saturating_sub(b) as f64 / 1024.0
        ),
        _ => println!("peak RSS: /proc/self/status not readable"),
    }
    Ok(())
}
