//! Subjects: one per negotiation, built only from a [`NegotiationId`].

use roundtable_domain::NegotiationId;

/// Maps negotiations to subjects under a prefix, and back.
///
/// A [`NegotiationId`] is 1 to 64 characters of `a-z`, `0-9` and `-`, so it is always
/// exactly one subject token: no `.`, `*`, `>` or white space can get through.
#[derive(Debug, Clone)]
pub(crate) struct Subjects {
    prefix: String,
}

impl Subjects {
    /// Subjects under `prefix` (already validated).
    pub(crate) fn new(prefix: &str) -> Subjects {
        Subjects {
            prefix: prefix.to_owned(),
        }
    }

    /// `<prefix>.<negotiation_id>`.
    pub(crate) fn of(&self, negotiation: &NegotiationId) -> String {
        format!("{}.{}", self.prefix, negotiation.as_str())
    }

    /// `<prefix>.>`: every negotiation.
    pub(crate) fn all(&self) -> String {
        format!("{}.>", self.prefix)
    }

    /// The negotiation of a subject, or `None` when the subject is not
    /// `<prefix>.<valid negotiation id>`.
    pub(crate) fn negotiation(&self, subject: &str) -> Option<NegotiationId> {
        let token = subject.strip_prefix(&self.prefix)?.strip_prefix('.')?;
        NegotiationId::new(token).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip() {
        let s = Subjects::new("roundtable.events");
        let id = NegotiationId::new("lakeside-water").expect("id");
        assert_eq!(s.of(&id), "roundtable.events.lakeside-water");
        assert_eq!(s.all(), "roundtable.events.>");
        assert_eq!(s.negotiation(&s.of(&id)), Some(id));
        assert_eq!(s.negotiation("roundtable.events.a.b"), None);
        assert_eq!(s.negotiation("roundtable.events.UPPER"), None);
        assert_eq!(s.negotiation("roundtable.eventsx"), None);
        assert_eq!(s.negotiation("other.events.a"), None);
    }
}
