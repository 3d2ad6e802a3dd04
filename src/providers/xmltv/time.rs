//! XMLTV times: `YYYYMMDDhhmmss +hhmm`, as guides really write them.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};

/// Parses `YYYYMMDDhhmmss +hhmm` and what guides write instead: no
/// offset (UTC), `YYYYMMDDhhmm` or `YYYYMMDD`, `+hh:mm` or `+hh`, no space
/// before the offset, `Z`/`UTC`/`GMT`. None for anything else.
pub fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    // Only ASCII digits precede `digits`, so these slices are on boundaries.
    let (stamp, rest) = s.split_at(digits);
    let num = |r: std::ops::Range<usize>| stamp.get(r)?.parse::<u32>().ok();
    let (hour, minute, second) = match digits {
        14 => (num(8..10)?, num(10..12)?, num(12..14)?),
        12 => (num(8..10)?, num(10..12)?, 0),
        8 => (0, 0, 0),
        _ => return None,
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let naive =
        NaiveDate::from_ymd_opt(year, num(4..6)?, num(6..8)?)?.and_hms_opt(hour, minute, second)?;
    parse_offset(rest.trim())?
        .from_local_datetime(&naive)
        .single()
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    if s.is_empty()
        || ["Z", "UTC", "GMT"]
            .iter()
            .any(|z| s.eq_ignore_ascii_case(z))
    {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = match rest.split_once(':') {
        Some((h, m)) if h.len() == 2 && m.len() == 2 => format!("{h}{m}"),
        Some(_) => return None,
        None => rest.to_string(),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        2 => (digits.parse::<i32>().ok()?, 0),
        _ => return None,
    };
    if minutes >= 60 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<String> {
        parse_time(s).map(|d| d.to_rfc3339())
    }

    #[test]
    fn formats_guides_write() {
        for (input, want) in [
            ("20250101120000 +0100", "2025-01-01T12:00:00+01:00"),
            ("20250101120000 -0530", "2025-01-01T12:00:00-05:30"),
            ("20250101120000+0000", "2025-01-01T12:00:00+00:00"),
            ("20250101120000", "2025-01-01T12:00:00+00:00"),
            ("  20250101120000 Z ", "2025-01-01T12:00:00+00:00"),
            ("202501011200 +0200", "2025-01-01T12:00:00+02:00"),
            ("20250101120000 +02:00", "2025-01-01T12:00:00+02:00"),
            ("20250101120000 +02", "2025-01-01T12:00:00+02:00"),
            ("20250101", "2025-01-01T00:00:00+00:00"),
        ] {
            assert_eq!(t(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn junk_is_none() {
        for input in [
            "",
            "2025",
            "20251301120000 +0000",
            "20250101250000",
            "20250101120000 +2500",
            "20250101120000 +01:0",
            "20250101120000 +0160",
            "20250101120000 CET",
            "2025-01-01T12:00:00Z",
            "20250101120000 +０１００",
            "99999999999999999999",
        ] {
            assert_eq!(t(input), None, "{input}");
        }
    }
}
