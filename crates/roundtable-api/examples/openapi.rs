//! Prints the OpenAPI document of the HTTP API, as `/openapi.json` serves it:
//! `cargo run -p roundtable-api --example openapi > openapi.json`.

fn main() -> Result<(), serde_json::Error> {
    let document = roundtable_api::openapi::document();
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}
