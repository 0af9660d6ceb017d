//! JSON Schema validation for tests, with the `jsonschema` crate: validators that check
//! formats (`date-time`, `uri`, `uuid`...), and errors as readable lines.

use serde_json::Value;

/// A validator of `schema`, its draft read from `$schema` (2020-12 when absent), with
/// formats checked.
///
/// # Errors
/// The compiler's message when `schema` is not a valid schema.
pub fn validator(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// A JSON Schema draft-04 validator of `schema` (such as the OCDS release schema), with
/// formats checked.
///
/// # Errors
/// The compiler's message when `schema` is not a valid draft-04 schema.
pub fn draft4(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// The first `limit` errors of `instance` against `validator`, each as
/// `<error> at <JSON pointer>`; empty when it validates.
pub fn errors(validator: &jsonschema::Validator, instance: &Value, limit: usize) -> Vec<String> {
    validator
        .iter_errors(instance)
        .take(limit)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}
