//! Time travel on the sample minutes (Harbourside): the view after every version equals what the
//! rules give after that many lines, and views as of an instant on either clock.

#[path = "common/mod.rs"]
mod common;

use roundtable_audit::asof::every_version;
use roundtable_audit::{AsOfError, TimeAxis, as_of_time, as_of_version, time_point};
use roundtable_domain::view::NegotiationStatus;
use serde_json::json;

use common::*;

#[test]
fn the_view_at_every_version_equals_the_rules_after_that_many_lines() {
    let lines = commands(&sample_text());
    let (events, _) = run(&lines);
    assert_eq!(events.len(), 73);
    for n in 1..=73usize {
        // The oracle: a fresh run of the first n lines through decide.
        let (_, oracle) = run(&lines[..n]);
        let view = as_of_version(&events, n as u64).unwrap().unwrap();
        assert_eq!(view, oracle[n - 1], "version {n}");
        assert_eq!(view.version, n as u64);
    }
    let all = every_version(&events).unwrap();
    assert_eq!(all.len(), 73);
    for (i, v) in all.iter().enumerate() {
        assert_eq!(
            Some(v),
            as_of_version(&events, i as u64 + 1).unwrap().as_ref()
        );
    }
}

#[test]
fn version_zero_is_before_the_negotiation_and_past_the_end_is_an_error() {
    let (events, _) = sample();
    assert_eq!(as_of_version(&events, 0).unwrap(), None);
    assert_eq!(
        as_of_version(&events, 74),
        Err(AsOfError::NoSuchVersion {
            requested: 74,
            last: 73
        })
    );
}

#[test]
fn as_of_an_instant_between_the_first_two_meeting_days_gives_the_first_day() {
    let (events, views) = sample();
    // The first day's last line is the 26th command (c-epa-depot-licence, 11:30).
    let day_one = events
        .iter()
        .filter(|e| e.occurred_at < utc("2027-05-05T00:00:00Z"))
        .count();
    assert_eq!(day_one, 26);
    assert_eq!(events[day_one - 1].occurred_at, utc("2027-05-04T11:30:00Z"));
    for (t, axes) in [
        (
            utc("2027-05-04T18:00:00Z"),
            &[TimeAxis::Occurred, TimeAxis::Recorded][..],
        ),
        (utc("2027-05-04T11:30:00Z"), &[TimeAxis::Occurred][..]),
        (
            utc("2027-05-11T08:59:59Z"),
            &[TimeAxis::Occurred, TimeAxis::Recorded][..],
        ),
    ] {
        for &axis in axes {
            let v = as_of_time(&events, t, axis).unwrap().unwrap();
            assert_eq!(v, views[day_one - 1], "{t} on {axis:?}");
            assert_eq!(v.version, 26);
            assert_eq!(v.agreement_version, 5);
            assert_eq!(v.clauses.len(), 1, "only collection agreed on day one");
            assert_eq!(v.status, NegotiationStatus::Open);
        }
    }
    // The recorded clock runs two seconds behind business time here.
    let v = as_of_time(&events, utc("2027-05-04T11:30:01Z"), TimeAxis::Recorded).unwrap();
    assert_eq!(v.unwrap().version, 25);
    // The first line of day two is included at its own instant.
    let v = as_of_time(&events, utc("2027-05-11T09:00:00Z"), TimeAxis::Occurred).unwrap();
    assert_eq!(v.unwrap().version, 27);
}

#[test]
fn before_the_first_event_there_is_no_view_and_after_the_last_the_final_one() {
    let (events, views) = sample();
    assert_eq!(
        as_of_time(&events, utc("2027-05-03T00:00:00Z"), TimeAxis::Occurred).unwrap(),
        None
    );
    assert_eq!(
        as_of_time(&events, utc("2030-01-01T00:00:00Z"), TimeAxis::Recorded).unwrap(),
        Some(views[72].clone())
    );
}

#[test]
fn business_time_stops_at_the_first_event_that_had_not_happened_yet() {
    // The third line is entered late, back-dated to the first day.
    let n = "late-entry";
    let lines = vec![
        cmd(
            n,
            "secretariat",
            at(2027, 3, 1, 9, 0),
            command(json!({"do": "open_negotiation", "title": "t", "service": "water"})),
        ),
        cmd(
            n,
            "secretariat",
            at(2027, 3, 2, 9, 0),
            command(
                json!({"do": "admit_partner", "partner_id": "city", "name": "City", "sector": "government", "kind": "municipality", "role": "signatory"}),
            ),
        ),
        cmd(
            n,
            "secretariat",
            at(2027, 3, 1, 10, 0),
            command(
                json!({"do": "admit_partner", "partner_id": "ngo", "name": "NGO", "sector": "civil_society", "kind": "ngo", "role": "observer"}),
            ),
        ),
    ];
    let (events, views) = run(&lines);
    let t = at(2027, 3, 1, 18, 0);
    let point = time_point(&events, t, TimeAxis::Occurred);
    assert_eq!(
        point.version, 1,
        "the view never shows what had not happened by t"
    );
    assert_eq!(point.late_entries, [3]);
    assert_eq!(
        as_of_time(&events, t, TimeAxis::Occurred).unwrap(),
        Some(views[0].clone())
    );
}
