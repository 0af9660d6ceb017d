//! The times and dates a command may carry, and how stored times are read back
//! (docs/DECISIONS.md, "The window of times and dates").
//!
//! Every instant a command brings (`at`, the event's `occurred_at`) must fall, once
//! converted to UTC, within [`EARLIEST`]`..=`[`LATEST`]: years 1900 to 9999. Every
//! date (`due`) is written exactly `YYYY-MM-DD` (four ASCII digits, two, two) and falls
//! within [`EARLIEST_DATE`]`..=`[`LATEST_DATE`]. Outside that window, RFC 3339 has no
//! four-digit spelling of the instant, and the stored form would need a signed,
//! extended year (`+10000-01-01T23:58:59Z`) that strict readers refuse.
//!
//! Earlier releases did store such instants. [`parse_stored_instant`] reads exactly
//! the text those releases wrote, so their events still decode and re-encode to the
//! very bytes that were hashed.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// The earliest instant a command may carry: 1900-01-01T00:00:00Z.
pub const EARLIEST: DateTime<Utc> = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => match d.and_hms_opt(0, 0, 0) {
        Some(t) => t.and_utc(),
        None => DateTime::<Utc>::MIN_UTC,
    },
    None => DateTime::<Utc>::MIN_UTC,
};

/// The latest instant a command may carry: 9999-12-31T23:59:59.999999999Z.
pub const LATEST: DateTime<Utc> = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(d) => match d.and_hms_nano_opt(23, 59, 59, 999_999_999) {
        Some(t) => t.and_utc(),
        None => DateTime::<Utc>::MAX_UTC,
    },
    None => DateTime::<Utc>::MAX_UTC,
};

/// The earliest date a command may carry: 1900-01-01.
pub const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The latest date a command may carry: 9999-12-31.
pub const LATEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

/// An instant as the event envelope stores it: RFC 3339 in UTC with `Z`, as many
/// fractional digits as needed (0, 3, 6 or 9).
pub fn format_instant(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Checks that `t` (the instant of `field`, written `written`) is within the window.
///
/// # Errors
/// `"at" "9999-12-31T23:59:59-23:59" is +10000-01-01T23:58:59Z in UTC, outside the
/// accepted window 1900-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z`.
pub fn check_instant(field: &str, written: &str, t: DateTime<Utc>) -> Result<(), String> {
    if (EARLIEST..=LATEST).contains(&t) {
        return Ok(());
    }
    Err(format!(
        "{field:?} {:?} is {} in UTC, outside the accepted window {} to {}",
        shorten(written),
        format_instant(&t),
        format_instant(&EARLIEST),
        format_instant(&LATEST)
    ))
}

/// Parses the instant a command carries in `field` (`at`): RFC 3339 with an offset,
/// converted to UTC, within [`EARLIEST`]`..=`[`LATEST`]. The one parser of command
/// times, for minutes lines and HTTP bodies alike.
///
/// # Errors
/// A message naming the field, the value as written and what is wrong: not RFC 3339,
/// or outside the window ([`check_instant`]).
pub fn parse_instant(field: &str, text: &str) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(text)
        .map_err(|e| {
            format!(
                "{field:?} {:?} is not an RFC 3339 time such as 2027-03-02T09:30:00Z: {e}",
                shorten(text)
            )
        })?
        .with_timezone(&Utc);
    check_instant(field, text, t)?;
    Ok(t)
}

/// Parses a date a command carries: exactly `YYYY-MM-DD` (ten ASCII characters, no
/// sign, no spaces, two-digit month and day), a real calendar day, within
/// [`EARLIEST_DATE`]`..=`[`LATEST_DATE`] (DOMAIN.md: "`due` is a date, `YYYY-MM-DD`").
///
/// # Errors
/// A message naming the value and what is wrong (the caller names the field).
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(format!(
            "{:?} is not a date written YYYY-MM-DD, such as 2027-06-30",
            shorten(text)
        ));
    }
    let d = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("{text:?} is not a calendar date: {e}"))?;
    if !(EARLIEST_DATE..=LATEST_DATE).contains(&d) {
        return Err(format!(
            "{text:?} is outside the accepted window {EARLIEST_DATE} to {LATEST_DATE}"
        ));
    }
    Ok(d)
}

/// Reads an instant of a stored envelope (`occurred_at`, `recorded_at`): RFC 3339, or
/// exactly the text an earlier release wrote for an instant outside the four-digit
/// years (`+10000-01-01T23:58:59Z`, `-0001-12-31T23:59:00Z`), which this build writes
/// back identically ([`format_instant`]). Any other spelling of such a year is `None`.
pub fn parse_stored_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let t: DateTime<Utc> = text.parse().ok()?;
    (format_instant(&t) == text).then_some(t)
}

/// At most 80 characters of a value, for messages.
fn shorten(text: &str) -> String {
    text.chars().take(80).collect()
}

/// `deserialize_with` for an optional command date (`due`): `null` or absent is
/// `None`, a string goes through [`parse_date`].
///
/// # Errors
/// The deserializer's error carrying [`parse_date`]'s message.
pub fn deserialize_optional_date<'de, D>(d: D) -> Result<Option<NaiveDate>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize;
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => parse_date(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

/// `deserialize_with` for a required command date (such as `fulfilled_on`).
///
/// # Errors
/// The deserializer's error carrying [`parse_date`]'s message.
pub fn deserialize_date<'de, D>(d: D) -> Result<NaiveDate, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize;
    let s = String::deserialize(d)?;
    parse_date(&s).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_years_1900_to_9999_in_utc() {
        assert_eq!(format_instant(&EARLIEST), "1900-01-01T00:00:00Z");
        assert_eq!(format_instant(&LATEST), "9999-12-31T23:59:59.999999999Z");
        assert_eq!(EARLIEST_DATE.to_string(), "1900-01-01");
        assert_eq!(LATEST_DATE.to_string(), "9999-12-31");
    }

    #[test]
    fn an_instant_outside_the_window_names_field_value_utc_and_window() {
        let e = parse_instant("at", "9999-12-31T23:59:59-23:59").unwrap_err();
        assert_eq!(
            e,
            "\"at\" \"9999-12-31T23:59:59-23:59\" is +10000-01-01T23:58:59Z in UTC, outside the accepted window 1900-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z"
        );
        assert!(parse_instant("at", "0000-01-01T00:00:00+00:01").is_err());
        assert!(
            parse_instant("at", "yesterday")
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert_eq!(
            parse_instant("at", "2027-03-02T10:30:00+01:00").map(|t| format_instant(&t)),
            Ok("2027-03-02T09:30:00Z".to_owned())
        );
    }

    #[test]
    fn stored_instants_read_what_any_release_wrote_and_nothing_else() {
        for written in [
            "2027-03-02T09:30:00Z",
            "2027-03-02T09:30:00.250Z",
            "+10000-01-01T23:58:59Z",
            "-0001-12-31T23:59:00Z",
        ] {
            let t = parse_stored_instant(written).unwrap_or_else(|| panic!("{written}"));
            assert_eq!(format_instant(&t), written);
        }
        for other in [
            "+10000-01-01T23:58:59+00:00",
            "10000-01-01T23:58:59Z",
            "+2027-03-02T09:30:00Z",
            "-0001-12-31 23:59:00Z",
            "",
        ] {
            assert_eq!(parse_stored_instant(other), None, "{other}");
        }
    }

    proptest::proptest! {
        /// Every instant chrono can hold is written in a form that reads back as the
        /// same instant and the same text: old events re-encode byte for byte.
        #[test]
        fn every_written_instant_reads_back_identically(
            secs in DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
            nanos in proptest::prop_oneof![proptest::strategy::Just(0u32), 0u32..1_000_000_000],
        ) {
            if let Some(t) = DateTime::<Utc>::from_timestamp(secs, nanos) {
                let written = format_instant(&t);
                proptest::prop_assert_eq!(parse_stored_instant(&written), Some(t));
            }
        }
    }
}
