//! The config's error: which key, which value, what is wrong with it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{key} ({value}) {problem}")]
    Invalid {
        key: String,
        value: String,
        problem: String,
    },
}

pub(crate) fn invalid(
    key: impl Into<String>,
    value: impl ToString,
    problem: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        problem: problem.into(),
    }
}

/// A TOML error in `origin` that quotes nothing of the file: toml's own
/// `Display` prints the offending line, which for `--config /etc/shadow`
/// is a password hash (issue 12). Says where (line and column, from the
/// span into `text`) and what (toml's message, with every item quoted
/// from the file taken out by [`scrub`], then URLs redacted).
pub(crate) fn toml_error(origin: &str, text: Option<&str>, e: &toml::de::Error) -> ConfigError {
    // One line: toml's messages can hold several (`invalid table
    // header\nduplicate key …`, found by fuzz/fuzz_targets/config.rs).
    let one_line = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let message = crate::redact::redact_in_text(&scrub(&one_line));
    let message = match (text, e.span()) {
        (Some(text), Some(span)) => {
            let (line, column) = line_column(text, span.start);
            match key_at(text, span.start) {
                Some(key) => format!("line {line}, column {column} ({key}): {message}"),
                None => format!("line {line}, column {column}: {message}"),
            }
        }
        _ => message,
    };
    ConfigError::Parse {
        origin: origin.to_string(),
        message,
    }
}

/// 1-based line and column (in characters) of byte `at` in `text`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The dotted key (`stream.failover_after_ms`) on the line holding byte
/// `at`, when its section and key are all names of ours: the keys of the
/// shipped example config (a test checks it matches the defaults). A word of the file that is
/// not one of them is not repeated.
fn key_at(text: &str, at: usize) -> Option<String> {
    static OURS: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    let ours = OURS.get_or_init(|| {
        let mut names = std::collections::HashSet::new();
        let example = include_str!("../../streamforge.example.toml");
        // Not `Config::default()`: this file must not import its parent.
        let tables = [example.parse::<toml::Table>().ok().map(toml::Value::Table)];
        fn walk(v: &toml::Value, names: &mut std::collections::HashSet<String>) {
            match v {
                toml::Value::Table(t) => {
                    for (k, v) in t {
                        names.insert(k.clone());
                        walk(v, names);
                    }
                }
                toml::Value::Array(a) => a.iter().for_each(|v| walk(v, names)),
                _ => {}
            }
        }
        tables.iter().flatten().for_each(|v| walk(v, &mut names));
        names
    });
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let key = text[line_start..line_end].split_once('=')?.0.trim();
    let section = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
        });
    let path: Vec<&str> = section
        .into_iter()
        .flat_map(|s| s.split('.'))
        .chain(key.split('.'))
        .map(str::trim)
        .collect();
    path.iter()
        .all(|k| ours.contains(*k))
        .then(|| path.join("."))
}

/// Longest message kept; a parser's message is a sentence, not a page.
const MAX_MESSAGE: usize = 300;

/// Takes out of a serde/toml message every quoted item that came from the
/// file (`invalid type: string "…"`, ``unknown field `…` ``, ``duplicate
/// key `…` ``) and keeps the ones that are ours: what follows the word
/// `expected` (the keys or values we accept) and ``missing field `x` ``.
pub(crate) fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE));
    let mut ours = false;
    let mut chars = message.char_indices();
    while let Some((i, c)) = chars.next() {
        if !ours && message[i..].starts_with("expected") {
            ours = true;
        }
        if !matches!(c, '"' | '`') {
            out.push(c);
            continue;
        }
        let keep = ours || message[..i].ends_with("missing field ");
        // The item runs to the closing quote (a `"` item is Rust-escaped).
        out.push(c);
        if !keep {
            out.push('…');
        }
        let mut escaped = false;
        for (_, d) in chars.by_ref() {
            let closing = !escaped && d == c;
            escaped = !escaped && d == '\\' && c == '"';
            if keep || closing {
                out.push(d);
            }
            if closing {
                break;
            }
        }
    }
    if out.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{line_column, scrub};

    #[test]
    fn scrub_keeps_ours_and_drops_the_files() {
        let cases = [
            (
                r#"invalid type: string "hunter2", expected u16"#,
                r#"invalid type: string "…", expected u16"#,
            ),
            (
                r#"invalid type: string "a \"quoted\" hunter2", expected a table"#,
                r#"invalid type: string "…", expected a table"#,
            ),
            (
                "unknown field `hunter2`, expected one of `server`, `tuner`",
                "unknown field `…`, expected one of `server`, `tuner`",
            ),
            ("missing field `number`", "missing field `number`"),
            ("duplicate key `hunter2`", "duplicate key `…`"),
            ("expected `.`, `=`", "expected `.`, `=`"),
            ("invalid type: integer `5`", "invalid type: integer `…`"),
            ("unterminated `hunter2", "unterminated `…"),
        ];
        for (message, want) in cases {
            assert_eq!(scrub(message), want, "{message}");
        }
        assert!(scrub(&"x".repeat(1000)).chars().count() <= super::MAX_MESSAGE + 1);
    }

    #[test]
    fn positions_are_one_based() {
        assert_eq!(line_column("a = 1\nb = é2\n", 0), (1, 1));
        assert_eq!(line_column("a = 1\nb = é2\n", 6), (2, 1));
        assert_eq!(line_column("a = 1\nb = é2\n", 12), (2, 6));
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
