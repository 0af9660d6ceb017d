//! A submitted form, turned into the command it asks for. The actor is never read
//! from the form: it comes from the session (a forged `by` or `actor` field is
//! ignored like any other unknown field).

use std::collections::HashMap;

use roundtable_domain::command::{
    AdmitPartner, Commit, Conclude, Object, OpenNegotiation, ProposalRef, Propose, RegisterKey,
    Sign, WithdrawCommitment, WithdrawObjection,
};
use roundtable_domain::vocab::{Amount, CommitmentKind, DecisionRule, PartnerKind, Role};
use roundtable_domain::{ClauseId, Command, CommitmentId, ObjectionId, PartnerId, ProposalId};
use serde::de::DeserializeOwned;

/// The fields of one submitted form, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Submitted {
    /// Every field but the CSRF token.
    pub(crate) fields: HashMap<String, String>,
}

impl Submitted {
    pub(crate) fn new(mut fields: HashMap<String, String>) -> Submitted {
        fields.remove("csrf");
        Submitted { fields }
    }

    /// A field's value (empty when absent).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }

    /// A field's value, `None` when absent or blank.
    fn optional(&self, name: &str) -> Option<String> {
        let v = self.get(name);
        (!v.trim().is_empty()).then(|| v.to_owned())
    }

    /// The action (`endorse`, `propose`...).
    pub(crate) fn action(&self) -> &str {
        self.get("action")
    }

    /// Which form on the page sent it: the action and the item it acts on
    /// (`endorse:p-2`), so that a rejection is shown beside that form only.
    pub(crate) fn form_key(&self) -> String {
        form_key(self.action(), self.target())
    }

    fn target(&self) -> &str {
        for name in ["proposal_id", "objection_id", "commitment_id"] {
            let v = self.get(name);
            if !v.is_empty() && !matches!(self.action(), "propose" | "object" | "commit") {
                return v;
            }
        }
        match self.action() {
            "object" => self.get("proposal_id"),
            "propose" => self.get("amends"),
            _ => "",
        }
    }

    /// The command the form asks for.
    ///
    /// # Errors
    /// What is wrong with which field, in words (`proposal id: ...`).
    pub(crate) fn command(&self) -> Result<Command, String> {
        Ok(match self.action() {
            "open_negotiation" => Command::OpenNegotiation(OpenNegotiation {
                title: self.get("title").to_owned(),
                service: self.get("service").to_owned(),
                decision_rule: Some(word::<DecisionRule>(self, "decision_rule")?),
            }),
            "admit_partner" => {
                let kind = word::<PartnerKind>(self, "kind")?;
                Command::AdmitPartner(AdmitPartner {
                    partner_id: id(self, "partner_id", PartnerId::new)?,
                    name: self.get("name").to_owned(),
                    sector: kind.sector(),
                    kind,
                    role: word::<Role>(self, "role")?,
                    public_key: self.optional("public_key").map(|k| k.trim().to_owned()),
                })
            }
            "register_key" => Command::RegisterKey(RegisterKey {
                partner_id: id(self, "partner_id", PartnerId::new)?,
                public_key: self.get("public_key").trim().to_owned(),
            }),
            "propose" => Command::Propose(Propose {
                proposal_id: id(self, "proposal_id", ProposalId::new)?,
                clause_id: id(self, "clause_id", ClauseId::new)?,
                text: self.get("text").to_owned(),
                title: self.optional("title"),
                rationale: self.optional("rationale"),
            }),
            "withdraw_proposal" => Command::WithdrawProposal(self.proposal()?),
            "endorse" => Command::Endorse(self.proposal()?),
            "retract_endorsement" => Command::RetractEndorsement(self.proposal()?),
            "adopt" => Command::Adopt(self.proposal()?),
            "object" => Command::Object(Object {
                objection_id: id(self, "objection_id", ObjectionId::new)?,
                proposal_id: id(self, "proposal_id", ProposalId::new)?,
                grounds: self.get("grounds").to_owned(),
                blocking: matches!(self.get("blocking"), "on" | "true" | "yes"),
            }),
            "withdraw_objection" => Command::WithdrawObjection(WithdrawObjection {
                objection_id: id(self, "objection_id", ObjectionId::new)?,
                note: self.optional("note"),
            }),
            "commit" => {
                let amount = match (self.optional("amount"), self.optional("currency")) {
                    (None, None) => None,
                    (Some(value), Some(currency)) => Some(Amount {
                        value: value.trim().to_owned(),
                        currency: currency.trim().to_owned(),
                    }),
                    (Some(_), None) => return Err("currency: an amount needs its currency".into()),
                    (None, Some(_)) => return Err("amount: a currency needs its amount".into()),
                };
                let due = self
                    .optional("due")
                    .map(|d| {
                        roundtable_domain::time::parse_date(d.trim())
                            .map_err(|e| format!("due: {e}"))
                    })
                    .transpose()?;
                Command::Commit(Commit {
                    commitment_id: id(self, "commitment_id", CommitmentId::new)?,
                    description: self.get("description").to_owned(),
                    kind: word::<CommitmentKind>(self, "kind")?,
                    clause_id: self
                        .optional("clause_id")
                        .map(|c| ClauseId::new(c.trim()).map_err(|e| format!("clause_id: {e}")))
                        .transpose()?,
                    amount,
                    due,
                    // Drawing on declared assets is contract version 2's, not yet in
                    // the web app's forms.
                    assets: Vec::new(),
                })
            }
            "withdraw_commitment" => Command::WithdrawCommitment(WithdrawCommitment {
                commitment_id: id(self, "commitment_id", CommitmentId::new)?,
                reason: self.get("reason").to_owned(),
            }),
            "sign" => Command::Sign(Sign {
                signature: self.optional("signature").map(|s| s.trim().to_owned()),
            }),
            "conclude" => Command::Conclude(Conclude {}),
            other => return Err(format!("unknown action {other:?}")),
        })
    }

    fn proposal(&self) -> Result<ProposalRef, String> {
        Ok(ProposalRef {
            proposal_id: id(self, "proposal_id", ProposalId::new)?,
        })
    }
}

/// The key of the form doing `action` on `target` (empty when it acts on no item).
pub(crate) fn form_key(action: &str, target: &str) -> String {
    if target.is_empty() {
        action.to_owned()
    } else {
        format!("{action}:{target}")
    }
}

fn id<T, E: std::fmt::Display>(
    form: &Submitted,
    name: &str,
    parse: impl Fn(String) -> Result<T, E>,
) -> Result<T, String> {
    parse(form.get(name).trim().to_owned()).map_err(|e| format!("{name}: {e}"))
}

/// A closed-vocabulary word (`municipality`, `cross_sector_consent`...).
fn word<T: DeserializeOwned>(form: &Submitted, name: &str) -> Result<T, String> {
    let v = form.get(name);
    serde_json::from_value(serde_json::Value::String(v.to_owned()))
        .map_err(|_| format!("{name}: {v:?} is not one of the allowed values"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Submitted {
        Submitted::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn forms_become_commands_and_ignore_an_actor_field() {
        let f = form(&[
            ("action", "endorse"),
            ("proposal_id", "p-1"),
            ("by", "hcc"),
            ("csrf", "x"),
        ]);
        assert_eq!(f.form_key(), "endorse:p-1");
        assert!(matches!(f.command(), Ok(Command::Endorse(_))));
        assert!(!f.fields.contains_key("csrf"));
        let f = form(&[
            ("action", "commit"),
            ("commitment_id", "k1"),
            ("description", "trucks"),
            ("kind", "in_kind"),
            ("amount", "100"),
        ]);
        assert_eq!(
            f.command().unwrap_err(),
            "currency: an amount needs its currency"
        );
        let f = form(&[
            ("action", "object"),
            ("proposal_id", "p1"),
            ("objection_id", "o1"),
            ("grounds", "g"),
            ("blocking", "on"),
        ]);
        assert_eq!(f.form_key(), "object:p1");
        assert!(matches!(
            f.command(),
            Ok(Command::Object(Object { blocking: true, .. }))
        ));
        let f = form(&[
            ("action", "admit_partner"),
            ("partner_id", "a"),
            ("name", "A"),
            ("kind", "mayor"),
            ("role", "signatory"),
        ]);
        assert_eq!(
            f.command().unwrap_err(),
            "kind: \"mayor\" is not one of the allowed values"
        );
    }
}
