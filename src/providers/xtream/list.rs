//! Lenient list bodies: an array of items, an object whose values are
//! the items, or `null`; each item goes through a `Value` so one bad item
//! is counted instead of failing the list.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::error::{XtreamError, precheck};

/// Items of a list body, and how many did not deserialise.
pub(super) struct Lenient<T> {
    pub(super) items: Vec<T>,
    pub(super) skipped: usize,
    /// The body was an object holding `user_info`: an auth answer, which
    /// panels send to list calls with bad credentials.
    auth_answer: bool,
}

pub(super) fn parse_list<T: DeserializeOwned>(body: &[u8]) -> Result<Lenient<T>, XtreamError> {
    precheck(None, body)?;
    let list: Lenient<T> = serde_json::from_slice(body).map_err(XtreamError::json)?;
    if list.auth_answer && list.items.is_empty() {
        return Err(XtreamError::AuthFailed {
            status: 200,
            reason: "the panel answered a list call with user_info",
        });
    }
    Ok(list)
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor(PhantomData))
    }
}

struct LenientVisitor<T>(PhantomData<T>);

impl<T: DeserializeOwned> LenientVisitor<T> {
    fn empty() -> Lenient<T> {
        Lenient {
            items: Vec::new(),
            skipped: 0,
            auth_answer: false,
        }
    }
}

impl<T: DeserializeOwned> Lenient<T> {
    /// Each item goes through a `Value`, so one bad item costs only itself.
    fn push(&mut self, item: &Value) {
        match T::deserialize(item) {
            Ok(t) => self.items.push(t),
            Err(_) => self.skipped += 1,
        }
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for LenientVisitor<T> {
    type Value = Lenient<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array or object of items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Self::empty();
        while let Some(item) = seq.next_element::<Value>()? {
            out.push(&item);
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Self::empty();
        while let Some((key, item)) = map.next_entry::<String, Value>()? {
            if key == "user_info" || key == "server_info" {
                out.auth_answer = true;
            } else {
                out.push(&item);
            }
        }
        Ok(out)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Self::empty())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Self::empty())
    }
}
