//! Lenient readings of panel JSON values: numbers as numbers or strings,
//! `null`/`""`/`"null"` as absent, booleans as `true`/`1`/`"1"`/`"true"`.
//! Each `de_*` function is a `deserialize_with` that never fails on a
//! well-formed value: a value of the wrong shape reads as absent.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An integer from a number (integral floats included) or a numeric string.
pub(super) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(integral)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(integral))
        }
        _ => None,
    }
}

fn integral(f: f64) -> Option<i64> {
    // The bounds keep the cast exact; i64::MAX is not representable.
    (f.fract() == 0.0 && (-9.0e18..=9.0e18).contains(&f)).then_some(f as i64)
}

/// A trimmed, non-empty string from a string or a number.
pub(super) fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty() && s != "null").then(|| s.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether a flag is set: `true`, a non-zero number, `"1"`, `"true"`, `"yes"`.
pub(super) fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(_) => int(v).is_some_and(|n| n != 0),
        Value::String(s) => {
            let s = s.trim().to_ascii_lowercase();
            matches!(s.as_str(), "true" | "yes" | "on") || int(v).is_some_and(|n| n != 0)
        }
        _ => false,
    }
}

/// A list of strings from an array of strings or numbers, or from one
/// comma-separated string.
pub(super) fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(string).collect(),
        Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Value::Number(_) => string(v).into_iter().collect(),
        _ => Vec::new(),
    }
}

pub(super) fn de_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(int(&Value::deserialize(d)?))
}

pub(super) fn de_opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(int(&Value::deserialize(d)?).and_then(|n| u32::try_from(n).ok()))
}

pub(super) fn de_opt_u16<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    Ok(int(&Value::deserialize(d)?).and_then(|n| u16::try_from(n).ok()))
}

pub(super) fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(string(&Value::deserialize(d)?))
}

pub(super) fn de_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(string(&Value::deserialize(d)?).unwrap_or_default())
}

pub(super) fn de_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(truthy(&Value::deserialize(d)?))
}

pub(super) fn de_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(strings(&Value::deserialize(d)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers() {
        for (v, want) in [
            (json!(3), Some(3)),
            (json!("3"), Some(3)),
            (json!(" -7 "), Some(-7)),
            (json!(3.0), Some(3)),
            (json!("1537821177.0"), Some(1537821177)),
            (json!(3.5), None),
            (json!(""), None),
            (json!("null"), None),
            (json!(null), None),
            (json!(true), None),
            (json!(1e300), None),
            (json!(u64::MAX), None),
            (json!([1]), None),
        ] {
            assert_eq!(int(&v), want, "{v}");
        }
    }

    #[test]
    fn flags_strings_lists() {
        for (v, want) in [
            (json!(1), true),
            (json!("1"), true),
            (json!("True"), true),
            (json!(true), true),
            (json!(0), false),
            (json!("0"), false),
            (json!(""), false),
            (json!(null), false),
            (json!("no"), false),
        ] {
            assert_eq!(truthy(&v), want, "{v}");
        }
        assert_eq!(string(&json!(12)), Some("12".into()));
        assert_eq!(string(&json!("  ")), None);
        assert_eq!(strings(&json!(["m3u8", 7, null, ""])), ["m3u8", "7"]);
        assert_eq!(strings(&json!("ts, m3u8")), ["ts", "m3u8"]);
        assert_eq!(strings(&json!({})), Vec::<String>::new());
    }
}
