//! A submitted form, turned into the command it asks for. The actor is never read
//! from the form: it comes from the session (a forged `by` or `actor` field is
//! ignored like any other unknown field).

use std::collections::HashMap;

use roundtable_domain::command::{
    AdmitPartner, Commit, Conclude, DeclareAsset, Fulfil, Object, OpenNegotiation, OpenRound,
    ProposalRef, Propose, RegisterKey, ReportProgress, ReportShortfall, ResolveShortfall, Sign,
    Terminate, Transfer, WithdrawCommitment, WithdrawObjection, WithdrawPartner,
};
use roundtable_domain::vocab::{
    Amount, AssetKind, CommitmentKind, DecisionRule, PartnerKind, Role, Severity,
};
use roundtable_domain::{
    AssetId, ClauseId, Command, CommitmentId, ObjectionId, PartnerId, ProposalId, RoundId,
    ShortfallId,
};
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
        match self.action() {
            "object" => self.get("proposal_id"),
            "propose" => self.get("amends"),
            "commit" | "declare_asset" | "open_round" | "terminate" | "conclude" | "sign"
            | "withdraw_partner" => "",
            "resolve_shortfall" => self.get("shortfall_id"),
            _ => ["proposal_id", "objection_id", "commitment_id"]
                .into_iter()
                .map(|name| self.get(name))
                .find(|v| !v.is_empty())
                .unwrap_or(""),
        }
    }

    /// An optional amount from the fields `{prefix}amount` and `{prefix}currency`.
    fn amount(&self, value: &str, currency: &str) -> Result<Option<Amount>, String> {
        match (self.optional(value), self.optional(currency)) {
            (None, None) => Ok(None),
            (Some(v), Some(c)) => Ok(Some(Amount {
                value: v.trim().to_owned(),
                currency: c.trim().to_owned(),
            })),
            (Some(_), None) => Err(format!("{currency}: an amount needs its currency")),
            (None, Some(_)) => Err(format!("{value}: a currency needs its amount")),
        }
    }

    /// The transfers of a `withdraw_partner` form: rows `transfer-N-commitment`,
    /// `transfer-N-to`, `transfer-N-new` (N from 1), a row with no `to` skipped.
    fn transfers(&self) -> Result<Vec<Transfer>, String> {
        let mut rows: Vec<usize> = self
            .fields
            .keys()
            .filter_map(|k| {
                k.strip_prefix("transfer-")?
                    .strip_suffix("-to")?
                    .parse()
                    .ok()
            })
            .collect();
        rows.sort_unstable();
        let mut out = Vec::new();
        for n in rows {
            let to = self.get(&format!("transfer-{n}-to")).trim();
            if to.is_empty() {
                continue;
            }
            out.push(Transfer {
                commitment_id: id(self, &format!("transfer-{n}-commitment"), CommitmentId::new)?,
                to: id(self, &format!("transfer-{n}-to"), PartnerId::new)?,
                new_commitment_id: id(self, &format!("transfer-{n}-new"), CommitmentId::new)?,
            });
        }
        Ok(out)
    }

    /// A date field, `YYYY-MM-DD`.
    fn date(&self, name: &str) -> Result<chrono::NaiveDate, String> {
        roundtable_domain::time::parse_date(self.get(name).trim())
            .map_err(|e| format!("{name}: {e}"))
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
                let amount = self.amount("amount", "currency")?;
                // One checkbox per declared asset: `asset:{asset_id}`.
                let mut assets: Vec<&str> = self
                    .fields
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .filter_map(|(k, _)| k.strip_prefix("asset:"))
                    .collect();
                assets.sort_unstable();
                let assets = assets
                    .into_iter()
                    .map(|a| AssetId::new(a).map_err(|e| format!("assets: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
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
                    assets,
                })
            }
            "open_round" => Command::OpenRound(OpenRound {
                round_id: id(self, "round_id", RoundId::new)?,
                reason: self.get("reason").to_owned(),
            }),
            "declare_asset" => Command::DeclareAsset(DeclareAsset {
                asset_id: id(self, "asset_id", AssetId::new)?,
                kind: word::<AssetKind>(self, "kind")?,
                description: self.get("description").to_owned(),
            }),
            "report_progress" => Command::ReportProgress(ReportProgress {
                commitment_id: id(self, "commitment_id", CommitmentId::new)?,
                note: self.get("note").to_owned(),
                delivered: self.amount("delivered", "currency")?,
            }),
            "fulfil" => Command::Fulfil(Fulfil {
                commitment_id: id(self, "commitment_id", CommitmentId::new)?,
                fulfilled_on: self.date("fulfilled_on")?,
                note: self.get("note").to_owned(),
            }),
            "report_shortfall" => Command::ReportShortfall(ReportShortfall {
                shortfall_id: id(self, "shortfall_id", ShortfallId::new)?,
                commitment_id: id(self, "commitment_id", CommitmentId::new)?,
                description: self.get("description").to_owned(),
                severity: word::<Severity>(self, "severity")?,
            }),
            "resolve_shortfall" => Command::ResolveShortfall(ResolveShortfall {
                shortfall_id: id(self, "shortfall_id", ShortfallId::new)?,
                resolution: self.get("resolution").to_owned(),
                penalty: self.amount("penalty", "currency")?,
            }),
            "withdraw_partner" => Command::WithdrawPartner(WithdrawPartner {
                partner_id: id(self, "partner_id", PartnerId::new)?,
                reason: self.get("reason").to_owned(),
                transfers: self.transfers()?,
            }),
            "terminate" => Command::Terminate(Terminate {
                reason: self.get("reason").to_owned(),
            }),
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
