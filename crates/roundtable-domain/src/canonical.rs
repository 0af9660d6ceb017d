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

use serde_json::Value;

/// Appends the canonical JSON of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
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
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_canonical(&map[k], out);
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

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{0c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
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

    #[test]
    fn escapes_like_json_requires_and_keeps_unicode_raw() {
        let v = json!("q\"\\\n\t\u{1}é€");
        assert_eq!(
            String::from_utf8(to_canonical(&v)).unwrap(),
            "\"q\\\"\\\\\\n\\t\\u0001é€\""
        );
    }
}
