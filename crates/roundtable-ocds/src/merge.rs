//! OCDS merging (the standard's "Merging" rules, as the reference tool `ocdsmerge`
//! applies them): releases sorted by `date` (a stable sort), then each one's fields
//! written over the ones before.
//!
//! - `id`, `date` and `tag` of a release are left out (`omitWhenMerged`); the compiled
//!   release gets `tag: ["compiled"]`, the latest `date`, and `id` = `<ocid>-<date>`.
//! - An object is merged field by field.
//! - An array of objects is merged by the objects' `id` (identifier merge); an object
//!   without an `id` is always added anew.
//! - Any other array (of strings, such as `roles`) replaces the earlier one whole.
//! - An empty object or array changes nothing; a `null` removes the field.
//!
//! This covers every field Roundtable writes. Rules that depend on the schema alone
//! (`wholeListMerge` on an array of objects) are not applied: Roundtable writes no such
//! field.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// One step of a flattened path: an object key, or an array item by its identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Step {
    Key(String),
    Item(String),
}

type Path = Vec<Step>;

/// Flattened fields in the order first written, with the original `id` of each item.
#[derive(Debug, Default)]
struct Flat {
    order: Vec<Path>,
    values: HashMap<Path, Value>,
    ids: HashMap<Path, Option<Value>>,
    anonymous: u64,
}

impl Flat {
    fn set(&mut self, path: Path, value: Value) {
        if !self.values.contains_key(&path) {
            self.order.push(path.clone());
        }
        self.values.insert(path, value);
    }

    /// Writes the fields of one release over the ones before.
    fn merge_release(&mut self, release: &Map<String, Value>) {
        for (key, value) in release {
            if matches!(key.as_str(), "id" | "date" | "tag") {
                continue;
            }
            self.flatten(vec![Step::Key(key.clone())], value);
        }
    }

    fn flatten(&mut self, path: Path, value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let mut p = path.clone();
                    p.push(Step::Key(key.clone()));
                    self.flatten(p, v);
                }
            }
            Value::Array(items) if items.iter().all(Value::is_object) => {
                for item in items {
                    let id = item.get("id");
                    let step = match id {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => {
                            self.anonymous += 1;
                            format!("\u{0}anonymous-{}", self.anonymous)
                        }
                    };
                    let mut p = path.clone();
                    p.push(Step::Item(step));
                    self.ids.entry(p.clone()).or_insert_with(|| id.cloned());
                    self.flatten(p, item);
                }
            }
            // Scalars, null and arrays holding anything but objects: replaced whole.
            // (An empty array is handled above and changes nothing.)
            other => self.set(path, other.clone()),
        }
    }

    /// The nested object, fields in the order first written; `null` fields left out.
    fn unflatten(&self) -> Value {
        let mut root = Value::Object(Map::new());
        for path in &self.order {
            let Some(value) = self.values.get(path) else {
                continue;
            };
            let mut node = &mut root;
            for (i, step) in path.iter().enumerate() {
                let last = i + 1 == path.len();
                node = match step {
                    Step::Item(_) => {
                        let Value::Array(items) = node else {
                            break;
                        };
                        let prefix = &path[..=i];
                        let index = items.iter().position(|item| {
                            item.get("\u{0}path")
                                .is_some_and(|p| p == &path_key(prefix))
                        });
                        let index = match index {
                            Some(index) => index,
                            None => {
                                let mut fresh = Map::new();
                                fresh.insert("\u{0}path".into(), path_key(prefix));
                                if let Some(Some(id)) = self.ids.get(prefix) {
                                    fresh.insert("id".into(), id.clone());
                                }
                                items.push(Value::Object(fresh));
                                items.len() - 1
                            }
                        };
                        &mut items[index]
                    }
                    Step::Key(key) => {
                        let Value::Object(map) = node else {
                            break;
                        };
                        if last {
                            if !value.is_null() && !map.contains_key(key) {
                                map.insert(key.clone(), value.clone());
                            }
                            break;
                        }
                        let next_is_item = matches!(path.get(i + 1), Some(Step::Item(_)));
                        map.entry(key.clone()).or_insert_with(|| {
                            if next_is_item {
                                Value::Array(Vec::new())
                            } else {
                                Value::Object(Map::new())
                            }
                        })
                    }
                };
            }
        }
        strip_markers(&mut root);
        root
    }
}

/// A marker naming an array item's path while unflattening (removed afterwards).
fn path_key(path: &[Step]) -> Value {
    Value::String(format!("{path:?}"))
}

fn strip_markers(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("\u{0}path");
            map.values_mut().for_each(strip_markers);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_markers),
        _ => {}
    }
}

/// The compiled release of `releases` (all of one `ocid`), or `None` when there are
/// none or one is not an object with a string `date`.
pub fn compile(releases: &[Value]) -> Option<Value> {
    let mut sorted: Vec<&Map<String, Value>> = releases
        .iter()
        .map(Value::as_object)
        .collect::<Option<_>>()?;
    if sorted.is_empty()
        || sorted
            .iter()
            .any(|r| !r.get("date").is_some_and(Value::is_string))
    {
        return None;
    }
    sorted.sort_by(|a, b| {
        let date =
            |r: &Map<String, Value>| r.get("date").and_then(Value::as_str).map(str::to_owned);
        date(a).cmp(&date(b))
    });
    let mut flat = Flat::default();
    flat.set(
        vec![Step::Key("tag".into())],
        Value::Array(vec![Value::String("compiled".into())]),
    );
    for release in sorted {
        let ocid = release.get("ocid").cloned().unwrap_or(Value::Null);
        let date = release.get("date").cloned().unwrap_or(Value::Null);
        let id = format!(
            "{}-{}",
            ocid.as_str().unwrap_or_default(),
            date.as_str().unwrap_or_default()
        );
        flat.set(vec![Step::Key("id".into())], Value::String(id));
        flat.set(vec![Step::Key("date".into())], date);
        flat.set(vec![Step::Key("ocid".into())], ocid);
        flat.merge_release(release);
    }
    Some(flat.unflatten())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn later_fields_win_and_items_merge_by_id() {
        let releases = [
            json!({"ocid": "o", "id": "1", "date": "2027-01-01T00:00:00Z", "tag": ["tender"],
                   "tender": {"status": "active", "title": "T"},
                   "parties": [{"id": "a", "name": "A", "roles": ["buyer", "procuringEntity"]}]}),
            json!({"ocid": "o", "id": "2", "date": "2027-01-02T00:00:00Z", "tag": ["award"],
                   "tender": {"status": "complete", "milestones": []},
                   "parties": [{"id": "b", "name": "B"}, {"id": "a", "roles": ["buyer"]}]}),
        ];
        let compiled = compile(&releases).unwrap();
        assert_eq!(
            compiled,
            json!({"ocid": "o", "id": "o-2027-01-02T00:00:00Z", "date": "2027-01-02T00:00:00Z",
                   "tag": ["compiled"],
                   "tender": {"status": "complete", "title": "T"},
                   "parties": [{"id": "a", "name": "A", "roles": ["buyer"]}, {"id": "b", "name": "B"}]})
        );
    }

    #[test]
    fn releases_merge_in_date_order_and_null_removes() {
        let releases = [
            json!({"ocid": "o", "id": "2", "date": "2027-01-02T00:00:00Z", "tag": ["tenderUpdate"],
                   "tender": {"title": null, "status": "active"}}),
            json!({"ocid": "o", "id": "1", "date": "2027-01-01T00:00:00Z", "tag": ["tender"],
                   "tender": {"title": "T", "status": "planning"}}),
        ];
        let compiled = compile(&releases).unwrap();
        assert_eq!(compiled["tender"], json!({"status": "active"}));
        assert!(compile(&[]).is_none());
        assert!(compile(&[json!({"ocid": "o"})]).is_none());
    }
}
