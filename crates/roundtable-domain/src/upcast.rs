//! Upcasting: reading an event's `data` stored at an older schema version as the
//! current schema, without ever rewriting the log (docs/EVENTS.md, "Schema versions
//! and upcasting").
//!
//! An [`Upcaster`] is a registry: the current schema version of every event type, and
//! the [`UpcastStep`]s that each turn one type's data at version `n` into version
//! `n + 1`. Upcasting data stored at version `v` runs the steps `v → v+1 → ... →
//! current` of its type in order. [`EVENTS`] is the registry of this build; every read
//! path decodes through [`RecordedEvent::decode`](crate::RecordedEvent::decode), which
//! calls it after checking the hash, so the command side, the projector, rebuilds,
//! exports and verification all see the current schema.
//!
//! Every type is at version 1 today and [`STEPS`] is empty. When a type's schema
//! changes: raise its number in [`SCHEMA_VERSIONS`], add its step to [`STEPS`] (a pure
//! function on the JSON `data`), and keep the old version's golden file; the unit test
//! `the_registry_of_this_build_is_complete` fails until the step is there.

use serde_json::Value;

use crate::envelope::DecodeError;
use crate::event::EventBody;

/// One step: turns the `data` of `event_type` stored at schema version `from` into
/// the data of version `from + 1`, or says why it cannot.
#[derive(Debug, Clone, Copy)]
pub struct UpcastStep {
    /// The event type it applies to.
    pub event_type: &'static str,
    /// The schema version it reads; it writes `from + 1`.
    pub from: u32,
    /// The step: a pure function of the data (no clock, no lookups), so that the same
    /// stored event always reads the same.
    pub apply: fn(Value) -> Result<Value, String>,
}

/// A registry of schema versions and upcasting steps.
#[derive(Debug, Clone, Copy)]
pub struct Upcaster<'a> {
    versions: &'a [(&'a str, u32)],
    steps: &'a [UpcastStep],
}

/// The current schema version of every event type this build writes and reads.
pub const SCHEMA_VERSIONS: [(&str, u32); 22] = [
    ("negotiation_opened", 1),
    ("partner_admitted", 1),
    ("partner_key_registered", 1),
    ("proposal_made", 1),
    ("proposal_withdrawn", 1),
    ("proposal_endorsed", 1),
    ("endorsement_retracted", 1),
    ("objection_raised", 1),
    ("objection_withdrawn", 1),
    ("proposal_adopted", 1),
    ("commitment_made", 1),
    ("commitment_withdrawn", 1),
    ("agreement_signed", 1),
    ("negotiation_concluded", 1),
    ("round_opened", 1),
    ("asset_declared", 1),
    ("progress_reported", 1),
    ("commitment_fulfilled", 1),
    ("shortfall_reported", 1),
    ("shortfall_resolved", 1),
    ("partner_withdrawn", 1),
    ("negotiation_terminated", 1),
];

/// The upcasting steps of this build: none yet, as no type has changed its schema.
///
/// Contract version 2 added two optional fields to existing types,
/// `commitment_made.assets` and `negotiation_concluded.round_id`: both default when
/// absent and are left out when empty, so a version 1 event reads as before and
/// re-encodes to the same bytes (its hash still holds). Their schema version stays 1
/// and no step is needed (docs/EVENTS.md, "Adding optional fields").
pub const STEPS: &[UpcastStep] = &[];

/// The registry every stored event is decoded through.
pub const EVENTS: Upcaster<'static> = Upcaster::new(&SCHEMA_VERSIONS, STEPS);

/// The schema version this build writes for `event_type` (`None`: not a type it knows).
pub fn schema_version(event_type: &str) -> Option<u32> {
    EVENTS.current_version(event_type)
}

impl<'a> Upcaster<'a> {
    /// A registry of `versions` (each type's current schema version) and `steps`.
    pub const fn new(versions: &'a [(&'a str, u32)], steps: &'a [UpcastStep]) -> Self {
        Upcaster { versions, steps }
    }

    /// The current schema version of `event_type`, if the registry knows the type.
    pub fn current_version(&self, event_type: &str) -> Option<u32> {
        self.versions
            .iter()
            .find(|(t, _)| *t == event_type)
            .map(|&(_, v)| v)
    }

    /// Turns `data` of `event_type` stored at `schema_version` into the current
    /// schema's data, running each step in order (none at the current version).
    ///
    /// # Errors
    /// [`DecodeError::UnknownSchema`] for a type the registry does not know, version 0,
    /// a version newer than the current one (written by a newer build), or a version
    /// with no step to the next one; [`DecodeError::BadData`] when a step refuses the
    /// data.
    pub fn upcast(
        &self,
        event_type: &str,
        schema_version: u64,
        data: Value,
    ) -> Result<Value, DecodeError> {
        let unknown = || DecodeError::UnknownSchema {
            event_type: event_type.to_owned(),
            schema_version,
        };
        let current = self.current_version(event_type).ok_or_else(unknown)?;
        let stored = u32::try_from(schema_version).map_err(|_| unknown())?;
        if stored == 0 || stored > current {
            return Err(unknown());
        }
        let mut data = data;
        for from in stored..current {
            let step = self.step(event_type, from).ok_or_else(unknown)?;
            data = (step.apply)(data).map_err(|reason| DecodeError::BadData {
                event_type: event_type.to_owned(),
                reason: format!("upcasting from schema version {from}: {reason}"),
            })?;
        }
        Ok(data)
    }

    /// The `(type, from)` pairs with no step although the type's current version is
    /// above `from`: what must be added before the registry can read old events.
    pub fn missing_steps(&self) -> Vec<(String, u32)> {
        self.versions
            .iter()
            .flat_map(|&(t, current)| (1..current).map(move |from| (t, from)))
            .filter(|&(t, from)| self.step(t, from).is_none())
            .map(|(t, from)| (t.to_owned(), from))
            .collect()
    }

    fn step(&self, event_type: &str, from: u32) -> Option<&UpcastStep> {
        self.steps
            .iter()
            .find(|s| s.event_type == event_type && s.from == from)
    }
}

impl EventBody {
    /// The schema version this build writes for this event's type.
    pub fn schema_version(&self) -> u32 {
        schema_version(self.type_name()).unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A made-up type at version 3: version 1 called the field `colour`, version 2
    /// renamed it `color`, version 3 added `size` (default `"m"`).
    const WIDGET_VERSIONS: [(&str, u32); 2] = [("test_widget", 3), ("test_gadget", 2)];

    fn rename_colour(mut data: Value) -> Result<Value, String> {
        let object = data.as_object_mut().ok_or("data is not an object")?;
        let colour = object.remove("colour").ok_or("no colour")?;
        object.insert("color".into(), colour);
        Ok(data)
    }

    fn add_size(mut data: Value) -> Result<Value, String> {
        let object = data.as_object_mut().ok_or("data is not an object")?;
        object.entry("size").or_insert_with(|| json!("m"));
        Ok(data)
    }

    const WIDGET_STEPS: [UpcastStep; 2] = [
        // Out of order on purpose: steps are found by version, not by position.
        UpcastStep {
            event_type: "test_widget",
            from: 2,
            apply: add_size,
        },
        UpcastStep {
            event_type: "test_widget",
            from: 1,
            apply: rename_colour,
        },
    ];

    const WIDGETS: Upcaster<'static> = Upcaster::new(&WIDGET_VERSIONS, &WIDGET_STEPS);

    #[test]
    fn old_versions_pass_through_every_step_in_order() {
        assert_eq!(
            WIDGETS.upcast("test_widget", 1, json!({"colour": "red"})),
            Ok(json!({"color": "red", "size": "m"}))
        );
        assert_eq!(
            WIDGETS.upcast("test_widget", 2, json!({"color": "blue", "size": "l"})),
            Ok(json!({"color": "blue", "size": "l"}))
        );
        assert_eq!(
            WIDGETS.upcast("test_widget", 3, json!({"color": "green", "size": "s"})),
            Ok(json!({"color": "green", "size": "s"}))
        );
        assert_eq!(WIDGETS.current_version("test_widget"), Some(3));
    }

    #[test]
    fn unknown_types_and_versions_are_refused() {
        for (t, v) in [
            ("test_widget", 0),
            ("test_widget", 4),
            ("test_widget", u64::MAX),
            ("test_thing", 1),
            // No step from 1 to 2 for the gadget.
            ("test_gadget", 1),
        ] {
            assert_eq!(
                WIDGETS.upcast(t, v, json!({})),
                Err(DecodeError::UnknownSchema {
                    event_type: t.into(),
                    schema_version: v
                }),
                "{t} v{v}"
            );
        }
        assert_eq!(WIDGETS.missing_steps(), vec![("test_gadget".into(), 1)]);
    }

    #[test]
    fn a_step_that_refuses_the_data_is_bad_data() {
        let err = WIDGETS
            .upcast("test_widget", 1, json!({"color": "already renamed"}))
            .expect_err("no colour");
        assert!(
            matches!(&err, DecodeError::BadData { event_type, reason }
                if event_type == "test_widget" && reason.contains("schema version 1") && reason.contains("no colour")),
            "{err:?}"
        );
    }

    #[test]
    fn the_registry_of_this_build_is_complete() {
        assert_eq!(EVENTS.missing_steps(), Vec::<(String, u32)>::new());
        let mut registered: Vec<&str> = SCHEMA_VERSIONS.iter().map(|(t, _)| *t).collect();
        registered.sort_unstable();
        let mut types = EventBody::TYPES.to_vec();
        types.sort_unstable();
        assert_eq!(registered, types, "every event type has a schema version");
        for step in STEPS {
            let current = schema_version(step.event_type).expect("a known type");
            assert!(step.from >= 1 && step.from < current, "{step:?}");
        }
    }
}
