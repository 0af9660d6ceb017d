//! Partners as OCDS parties: the roles each kind and role of partner gets, from the
//! `partyRole` codelist of OCDS and its PPP profile (docs/OCDS.md, "Parties").

use roundtable_domain::AgreementView;
use roundtable_domain::view::Partner;
use roundtable_domain::vocab::{PartnerKind, Role, Sector};
use serde_json::{Value, json};

/// The OCDS party roles of a partner.
///
/// | partner | roles |
/// | --- | --- |
/// | municipality, national government (signatory) | `buyer`, `procuringEntity` |
/// | public utility (signatory) | `procuringEntity` |
/// | international operator, national firm (signatory) | `privateParty`, `supplier` |
/// | small-scale provider (signatory) | `supplier` |
/// | donor | `funder` |
/// | civil society observer | `socialWitness` |
/// | anyone else (regulators, consultants, civil society signatories, other observers) | `interestedParty` |
pub fn roles(partner: &Partner) -> Vec<&'static str> {
    use PartnerKind::*;
    if partner.kind == Donor {
        return vec!["funder"];
    }
    if partner.role == Role::Observer {
        return if partner.sector == Sector::CivilSociety {
            vec!["socialWitness"]
        } else {
            vec!["interestedParty"]
        };
    }
    match partner.kind {
        Municipality | NationalGovernment => vec!["buyer", "procuringEntity"],
        PublicUtility => vec!["procuringEntity"],
        InternationalOperator | NationalFirm => vec!["privateParty", "supplier"],
        SmallScaleProvider => vec!["supplier"],
        Regulator
        | Ngo
        | CommunityOrganisation
        | ConsumerGroup
        | TradeUnion
        | Donor
        | Consultant => vec!["interestedParty"],
    }
}

/// When and why a partner left (`withdraw_partner`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// The release date of its leaving (RFC 3339, UTC, to the second).
    pub date: String,
    /// Why it left.
    pub reason: String,
}

/// The party object of a partner of `view`: id, name, roles, and the Roundtable facts
/// in `details.roundtable`: sector, kind, role, status (`active` or `withdrawn`), the
/// `withdrawal` (date and reason) when it left, and the `assets` it declared
/// (`{id, kind, description}`, in order declared; left out when none).
pub fn party(view: &AgreementView, partner: &Partner, withdrawal: Option<&Withdrawal>) -> Value {
    let mut roundtable = json!({
        "sector": partner.sector.as_str(),
        "kind": partner.kind.as_str(),
        "role": partner.role.as_str(),
        "status": partner.status.as_str(),
    });
    if let Some(w) = withdrawal {
        roundtable["withdrawal"] = json!({"date": w.date, "reason": w.reason});
    }
    let assets: Vec<Value> = view
        .assets
        .values()
        .filter(|a| a.partner_id == partner.partner_id)
        .map(|a| json!({"id": a.asset_id.as_str(), "kind": a.kind.as_str(), "description": a.description}))
        .collect();
    if !assets.is_empty() {
        roundtable["assets"] = Value::Array(assets);
    }
    json!({
        "id": partner.partner_id.as_str(),
        "name": partner.name,
        "roles": roles(partner),
        "details": {"roundtable": roundtable}
    })
}

/// An organization reference: `{"id", "name"}`.
pub fn reference(partner: &Partner) -> Value {
    json!({"id": partner.partner_id.as_str(), "name": partner.name})
}

#[cfg(test)]
mod tests {
    use roundtable_domain::PartnerId;

    use super::*;

    fn partner(kind: PartnerKind, role: Role) -> Partner {
        Partner {
            partner_id: PartnerId::new("p").unwrap_or_else(|e| panic!("{e}")),
            name: "P".into(),
            sector: kind.sector(),
            kind,
            role,
            public_key: None,
            status: Default::default(),
        }
    }

    #[test]
    fn roles_follow_kind_and_role() {
        use PartnerKind::*;
        let r = |k, ro| roles(&partner(k, ro));
        assert_eq!(
            r(Municipality, Role::Signatory),
            ["buyer", "procuringEntity"]
        );
        assert_eq!(
            r(InternationalOperator, Role::Signatory),
            ["privateParty", "supplier"]
        );
        assert_eq!(r(SmallScaleProvider, Role::Signatory), ["supplier"]);
        assert_eq!(r(Donor, Role::Observer), ["funder"]);
        assert_eq!(r(Donor, Role::Signatory), ["funder"]);
        assert_eq!(r(ConsumerGroup, Role::Observer), ["socialWitness"]);
        assert_eq!(r(TradeUnion, Role::Signatory), ["interestedParty"]);
        assert_eq!(r(Regulator, Role::Observer), ["interestedParty"]);
        assert_eq!(r(NationalFirm, Role::Observer), ["interestedParty"]);
    }
}
