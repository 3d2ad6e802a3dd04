//! URLs to ask a panel with: `player_api.php`, `xmltv.php`, `get.php` and
//! live stream URLs, built from a base the user may have pasted in any
//! shape. Credentials are percent-encoded; the results carry them, so
//! they are for the HTTP client only and go through `redact` to be logged.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

use super::error::XtreamError;

/// Bytes left as-is in a URL path segment or query value; everything else
/// is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn segment(s: &str) -> Result<String, XtreamError> {
    match s {
        // URL parsers resolve `.` and `..` (even as `%2E`) as path steps.
        "" | "." | ".." => Err(XtreamError::InvalidCredentials {
            reason: "a username or password cannot be empty, \".\" or \"..\" in a URL path",
        }),
        _ => Ok(utf8_percent_encode(s, SEGMENT).to_string()),
    }
}

/// Strips whatever a user pasted down to `scheme://host[:port][/prefix]`:
/// a trailing slash, a `get.php?…`/`player_api.php?…`/`xmltv.php?…` tail,
/// a whole stream URL (`/live/U/P/1.ts`), user info, query and fragment.
/// A bare `host:port` gets `http://`.
pub fn normalise_base(input: &str) -> Result<String, XtreamError> {
    let invalid = |reason| XtreamError::InvalidBase { reason };
    let input = input.trim();
    if input.is_empty() {
        return Err(invalid("empty"));
    }
    let with_scheme;
    let input = if input.contains("://") {
        input
    } else {
        with_scheme = format!("http://{input}");
        &with_scheme
    };
    let url = Url::parse(input).map_err(|_| invalid("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or(invalid("no host"))?;
    let mut segs: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if segs
        .last()
        .is_some_and(|s| s.to_ascii_lowercase().ends_with(".php"))
    {
        segs.pop();
    } else if segs.len() >= 4
        && matches!(
            segs[segs.len() - 4],
            "live" | "movie" | "series" | "timeshift"
        )
    {
        segs.truncate(segs.len() - 4);
    }
    let mut out = format!("{}://{host}", url.scheme());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    for s in segs {
        out.push('/');
        out.push_str(s);
    }
    Ok(out)
}

fn with_credentials(
    base: &str,
    file: &str,
    user: &str,
    pass: &str,
    extra: &[(&str, &str)],
) -> Result<String, XtreamError> {
    let mut url = Url::parse(&format!("{}/{file}", normalise_base(base)?)).map_err(|_| {
        XtreamError::InvalidBase {
            reason: "not a URL",
        }
    })?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("username", user)
            .append_pair("password", pass);
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    Ok(url.into())
}

/// `{base}/player_api.php?username=U&password=P[&action=…]`.
pub fn player_api_url(
    base: &str,
    user: &str,
    pass: &str,
    action: Option<&str>,
) -> Result<String, XtreamError> {
    let extra: Vec<(&str, &str)> = action.map(|a| ("action", a)).into_iter().collect();
    with_credentials(base, "player_api.php", user, pass, &extra)
}

/// `{base}/xmltv.php?username=U&password=P`.
pub fn xmltv_url(base: &str, user: &str, pass: &str) -> Result<String, XtreamError> {
    with_credentials(base, "xmltv.php", user, pass, &[])
}

/// `{base}/get.php?username=U&password=P&type=m3u_plus&output=ts`.
pub fn m3u_url(base: &str, user: &str, pass: &str) -> Result<String, XtreamError> {
    let extra = [("type", "m3u_plus"), ("output", "ts")];
    with_credentials(base, "get.php", user, pass, &extra)
}

/// The container of a live stream URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveFormat {
    Ts,
    M3u8,
}

impl LiveFormat {
    /// From an `allowed_output_formats` entry (`ts`, `m3u8`).
    pub fn from_ext(ext: &str) -> Option<Self> {
        match ext.trim().to_ascii_lowercase().as_str() {
            "ts" | "mpegts" => Some(Self::Ts),
            "m3u8" | "hls" => Some(Self::M3u8),
            _ => None,
        }
    }

    pub fn ext(self) -> &'static str {
        match self {
            Self::Ts => "ts",
            Self::M3u8 => "m3u8",
        }
    }
}

/// `{base}/live/U/P/{stream_id}.ts` (or `.m3u8`), credentials
/// percent-encoded as path segments.
pub fn live_url(
    base: &str,
    user: &str,
    pass: &str,
    stream_id: u64,
    format: LiveFormat,
) -> Result<String, XtreamError> {
    let url = format!(
        "{}/live/{}/{}/{stream_id}.{}",
        normalise_base(base)?,
        segment(user)?,
        segment(pass)?,
        format.ext()
    );
    Url::parse(&url)
        .map(String::from)
        .map_err(|_| XtreamError::InvalidBase {
            reason: "not a URL",
        })
}
