//! Parsing JSON input with every object's keys unique (docs/DECISIONS.md, "A key
//! given twice is refused").
//!
//! `serde_json` keeps the last value of a repeated key, so `{"do":"sign","do":"propose"}`
//! would silently be a `propose`. Commands (minutes lines, HTTP bodies) and export
//! files are read through [`parse_unique`] instead, which refuses a repeated key in any
//! object, nested or not, and says where.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `text` as one JSON value, refusing any object that gives a key twice.
///
/// # Errors
/// `serde_json`'s error: a syntax error as usual, or a data error (`is_data()`)
/// `repeated key "do"`, with the line and column of the repeated key's closing quote.
pub fn parse_unique(text: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = UniqueValue.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// [`parse_unique`] over bytes, which must be UTF-8 JSON.
///
/// # Errors
/// As [`parse_unique`].
pub fn parse_unique_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = UniqueValue.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Builds a [`Value`] as `serde_json` does, with unique keys.
struct UniqueValue;

impl<'de> DeserializeSeed<'de> for UniqueValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(UniqueValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "repeated key {:?}",
                    key.chars().take(80).collect::<String>()
                )));
            }
            let value = map.next_value_seed(UniqueValue)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_refused_at_any_depth_with_its_position() {
        let e = parse_unique(r#"{"do":"sign","do":"propose"}"#).unwrap_err();
        assert!(e.is_data());
        assert_eq!(e.to_string(), "repeated key \"do\" at line 1 column 17");
        let e = parse_unique("{\"a\": [1, {\"b\": 1,\n \"b\": 2}]}").unwrap_err();
        assert_eq!((e.line(), e.column()), (2, 4));
        assert!(e.to_string().starts_with("repeated key \"b\""), "{e}");
        // Escapes are compared after decoding: "\u0064o" is "do".
        assert!(parse_unique(r#"{"do":1,"\u0064o":2}"#).is_err());
    }

    #[test]
    fn everything_else_parses_as_serde_json_does() {
        for text in [
            r#"{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":null,"d":-1.5,"e":18446744073709551615}"#,
            r#"[]"#,
            r#""x""#,
            "  {\"k\": \"\\u00e9\"}  ",
        ] {
            assert_eq!(
                parse_unique(text).unwrap(),
                serde_json::from_str::<Value>(text).unwrap(),
                "{text}"
            );
            assert_eq!(
                parse_unique_slice(text.as_bytes()).unwrap(),
                parse_unique(text).unwrap()
            );
        }
        let e = parse_unique("{\"a\":1} x").unwrap_err();
        assert!(e.is_syntax(), "trailing characters: {e}");
        assert!(parse_unique("{\"a\":").unwrap_err().is_eof());
    }

    proptest::proptest! {
        /// Whatever serde_json writes (keys unique by construction) reads back equal.
        #[test]
        fn written_json_reads_back(keys in proptest::collection::btree_map(".{0,8}", 0i64..100, 0..8)) {
            let v: Value = serde_json::to_value(&keys).unwrap();
            let nested = serde_json::json!({"outer": v.clone(), "list": [v.clone(), v.clone()]});
            let text = serde_json::to_string(&nested).unwrap();
            proptest::prop_assert_eq!(parse_unique(&text).unwrap(), nested);
        }
    }
}
