//! Points in a negotiation's history: the one parser of instants every front end uses,
//! and [`AsOf`], the point a reader asks for.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
pub use roundtable_audit::TimeAxis;

/// The point of a negotiation's history a reader asks for (docs/AUDIT.md, "Time
/// travel").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// As it stands: every recorded event.
    Now,
    /// After the first `n` events (0: before the negotiation was opened).
    Version(u64),
    /// At this instant on this clock: the longest prefix of the log whose events all
    /// have their time at or before it.
    Time(DateTime<Utc>, TimeAxis),
}

impl AsOf {
    /// The point in words, as the errors and headers name it: `at version 3`,
    /// `at 2027-02-01T18:00:00Z by occurred_at`, `now`.
    pub fn describe(self) -> String {
        match self {
            AsOf::Now => "now".to_owned(),
            AsOf::Version(n) => format!("at version {n}"),
            AsOf::Time(t, axis) => format!("at {} by {}", instant(t), axis.field()),
        }
    }
}

/// An input that is not an instant; the message quotes it (at most 64 characters) and
/// gives the two accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{shown:?} is not a time such as 2027-02-01T18:00:00Z (RFC 3339, with an offset) or a date such as 2027-02-01"
)]
pub struct InvalidInstant {
    /// The input, cut to 64 characters.
    pub shown: String,
}

/// Parses an instant a reader names: RFC 3339 with an offset
/// (`2027-02-01T19:00:00+01:00`), or a date (`2027-02-01`, meaning its start in UTC).
///
/// A `+` sent unescaped in a URL query arrives as a space: a space where an offset's
/// sign belongs (`2027-02-01T19:00:00 01:00`) is read as `+`.
///
/// # Errors
/// [`InvalidInstant`] for anything else, such as `yesterday`, `2027-02-30`, or a time
/// without an offset.
pub fn parse_instant(raw: &str) -> Result<DateTime<Utc>, InvalidInstant> {
    let mut parsed = DateTime::parse_from_rfc3339(raw).ok();
    if parsed.is_none() {
        if let Some(sign) = raw.len().checked_sub(6) {
            if raw.is_char_boundary(sign) && raw[sign..].starts_with(' ') {
                let fixed = format!("{}+{}", &raw[..sign], &raw[sign + 1..]);
                parsed = DateTime::parse_from_rfc3339(&fixed).ok();
            }
        }
    }
    if let Some(t) = parsed {
        return Ok(t.with_timezone(&Utc));
    }
    if let Some(t) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(t.and_utc());
    }
    Err(InvalidInstant {
        shown: raw.chars().take(64).collect(),
    })
}

/// An instant as RFC 3339 in UTC, with as many fraction digits as it has
/// (`2027-02-01T18:00:00Z`).
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_rfc_3339_or_dates_and_a_plus_turned_space_is_a_plus() {
        let t = |s: &str| parse_instant(s).map(instant);
        assert_eq!(t("2027-02-01T18:00:00Z").unwrap(), "2027-02-01T18:00:00Z");
        assert_eq!(
            t("2027-02-01T19:00:00+01:00").unwrap(),
            "2027-02-01T18:00:00Z"
        );
        assert_eq!(
            t("2027-02-01T19:00:00 01:00").unwrap(),
            "2027-02-01T18:00:00Z"
        );
        assert_eq!(t("2027-02-01").unwrap(), "2027-02-01T00:00:00Z");
        for bad in ["", "yesterday", "2027-02-30", "2027-02-01T18:00:00", "é"] {
            assert!(parse_instant(bad).is_err(), "{bad:?}");
        }
        let long = "x".repeat(100);
        assert_eq!(parse_instant(&long).unwrap_err().shown.len(), 64);
    }

    #[test]
    fn points_describe_themselves() {
        assert_eq!(AsOf::Version(3).describe(), "at version 3");
        let t = parse_instant("2027-02-01").unwrap();
        assert_eq!(
            AsOf::Time(t, TimeAxis::Recorded).describe(),
            "at 2027-02-01T00:00:00Z by recorded_at"
        );
    }
}
