//! Canonical JSON: the exact bytes an event's hash is computed over.
//!
//! Rules (docs/HASHING.md gives them to auditors): objects have their keys sorted by
//! their UTF-8 bytes; no white space anywhere; strings escaped as JSON requires, with
//! `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t` short forms, other control characters as
//! `\u00xx` (lower-case hex), everything else (including non-ASCII) as raw UTF-8;
//! integers in plain decimal. Events hold no floating-point numbers. These are the
//! bytes Python's `json.dumps(v, sort_keys=True, separators=(",", ":"),
//! ensure_ascii=False)` writes for the same value.
//!
//! Written by hand rather than relying on `serde_json`'s map order, which a
//! dependency's `preserve_order` feature could silently change.

use std::io::Write as _;

use serde_json::Value;

/// Appends the canonical JSON of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            // Writing to a Vec cannot fail.
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
    }
}

/// The canonical JSON of `value` as a new buffer.
pub fn to_canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    write_canonical(value, &mut out);
    out
}

/// Appends `s` as a canonical JSON string.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Copy runs of bytes that need no escape at once (every byte of a multi-byte UTF-8
    // character is 0x80 or above, so none is ever escaped).
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            b if b < 0x20 => {
                out.extend_from_slice(&bytes[start..i]);
                let _ = write!(out, "\\u{:04x}", b);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_white_space() {
        let v = json!({"b": 1, "a": [true, null, {"d": "x", "c": "y"}]});
        assert_eq!(
            String::from_utf8(to_canonical(&v)).unwrap(),
            r#"{"a":[true,null,{"c":"y","d":"x"}],"b":1}"#
        );
    }

    proptest::proptest! {
        /// Any string round-trips through its canonical form, which holds no raw
        /// control character and differs from serde_json's compact form in nothing.
        #[test]
        fn strings_round_trip(s in ".*") {
            let out = to_canonical(&Value::String(s.clone()));
            proptest::prop_assert!(!out.iter().any(|&b| b < 0x20));
            proptest::prop_assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), s.clone());
            proptest::prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
        }
    }

    #[test]
    fn escapes_like_json_requires_and_keeps_unicode_raw() {
        let v = json!("q\"\\\n\t\u{1}é€");
        assert_eq!(
            String::from_utf8(to_canonical(&v)).unwrap(),
            "\"q\\\"\\\\\\n\\t\\u0001é€\""
        );
    }
}
