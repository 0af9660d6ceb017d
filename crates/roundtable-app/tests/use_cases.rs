//! The application layer's use cases over a real embedded store: the answers every
//! front end relies on (what is not recorded, a version past the last, a point before
//! the opening, late entries, a wait that ends behind).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use roundtable_app::CommandHandler;
use roundtable_app::history::{diff, view_as_of};
use roundtable_app::reads::view_at_least;
use roundtable_app::time::TimeAxis;
use roundtable_app::{AppError, AsOf, parse_instant};
use roundtable_domain::minutes::parse_line;
use roundtable_domain::{CommandEnvelope, NegotiationId};
use roundtable_projector::KvViewStore;
use roundtable_projector::ViewStore;
use roundtable_store::EventStore;

/// Five lines; the fourth was entered late: it happened before the third.
const MINUTES: &[&str] = &[
    r#"{"at": "2027-05-04T08:00:00Z", "negotiation_id": "drains", "by": "secretariat", "do": "open_negotiation", "title": "Drains", "service": "drainage"}"#,
    r#"{"at": "2027-05-04T09:00:00Z", "negotiation_id": "drains", "by": "secretariat", "do": "admit_partner", "partner_id": "ward", "name": "Ward committee", "sector": "civil_society", "kind": "community_organisation", "role": "signatory"}"#,
    r#"{"at": "2027-05-06T09:00:00Z", "negotiation_id": "drains", "by": "ward", "do": "propose", "proposal_id": "p1", "clause_id": "c1", "text": "Drains are cleared monthly."}"#,
    r#"{"at": "2027-05-05T09:00:00Z", "negotiation_id": "drains", "by": "secretariat", "do": "admit_partner", "partner_id": "city", "name": "City", "sector": "government", "kind": "municipality", "role": "signatory"}"#,
    r#"{"at": "2027-05-07T09:00:00Z", "negotiation_id": "drains", "by": "ward", "do": "endorse", "proposal_id": "p1"}"#,
];

/// Sends every command line of `lines` (blank and comment lines skipped) through
/// `handler`; each must be accepted.
async fn record<'a, S: EventStore + ?Sized>(
    handler: &CommandHandler<S>,
    lines: impl IntoIterator<Item = &'a str>,
) {
    for line in lines {
        let Some(m) = parse_line(line).expect("a line") else {
            continue;
        };
        let cmd = CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at: m.at.expect("at"),
            command: m.command,
        };
        handler.handle(&cmd).await.expect("accepted");
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn EventStore>,
    views: Arc<dyn ViewStore>,
}

async fn recorded() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = roundtable_sqlite::open(dir.path()).expect("store");
    let views: Arc<dyn ViewStore> = Arc::new(KvViewStore::open(&*ports.kv).await.expect("views"));
    let store: Arc<dyn EventStore> = ports.events.clone();
    let handler = CommandHandler::new(store.clone());
    record(&handler, MINUTES.iter().copied()).await;
    Fixture {
        _dir: dir,
        store,
        views,
    }
}

fn id(raw: &str) -> NegotiationId {
    NegotiationId::new(raw).expect("an id")
}

fn at(raw: &str) -> DateTime<Utc> {
    parse_instant(raw).expect("an instant")
}

#[tokio::test]
async fn a_point_in_time_stops_before_the_first_later_event_and_names_late_entries() {
    let f = recorded().await;
    let point = view_as_of(
        &*f.store,
        &id("drains"),
        AsOf::Time(at("2027-05-05T12:00:00Z"), TimeAxis::Occurred),
    )
    .await
    .expect("a view");
    // Versions 1 and 2 happened by then; version 3 happened later, so the view stops
    // there, and version 4 (entered late, happened on the 5th) is a late entry.
    assert_eq!(point.version, 2);
    assert_eq!(point.view.version, 2);
    assert_eq!(point.late_entries, vec![4]);
    assert_eq!(point.view.partners.len(), 1);

    let now = view_as_of(&*f.store, &id("drains"), AsOf::Now)
        .await
        .expect("now");
    assert_eq!((now.version, now.view.version), (5, 5));
    assert!(now.late_entries.is_empty());
}

#[tokio::test]
async fn each_missing_point_has_its_own_answer() {
    let f = recorded().await;
    let unknown = view_as_of(&*f.store, &id("nowhere"), AsOf::Now).await;
    assert!(
        matches!(unknown, Err(AppError::NotRecorded { .. })),
        "{unknown:?}"
    );
    let past = view_as_of(&*f.store, &id("drains"), AsOf::Version(6)).await;
    assert!(
        matches!(
            past,
            Err(AppError::VersionNotFound {
                requested: 6,
                last: 5,
                ..
            })
        ),
        "{past:?}"
    );
    let before = view_as_of(
        &*f.store,
        &id("drains"),
        AsOf::Time(at("2027-01-01"), TimeAxis::Occurred),
    )
    .await;
    let Err(AppError::NotYetOpened { when, .. }) = before else {
        panic!("{before:?}");
    };
    assert_eq!(when, "at 2027-01-01T00:00:00Z by occurred_at");
}

#[tokio::test]
async fn a_diff_is_between_two_folded_versions() {
    let f = recorded().await;
    let changes = diff(&*f.store, &id("drains"), 2, None)
        .await
        .expect("a diff");
    assert_eq!((changes.from, changes.to), (2, 5));
    let json = serde_json::to_value(&changes.diff).expect("JSON");
    assert_eq!(json["partners_admitted"][0]["partner_id"], "city", "{json}");
    for (from, to) in [(4, Some(3)), (0, Some(0))] {
        let bad = diff(&*f.store, &id("drains"), from, to).await;
        assert!(matches!(bad, Err(AppError::InvalidRequest(_))), "{bad:?}");
    }
    let past = diff(&*f.store, &id("drains"), 0, Some(9)).await;
    assert!(
        matches!(past, Err(AppError::VersionNotFound { .. })),
        "{past:?}"
    );
}

#[tokio::test]
async fn a_view_waited_for_is_served_behind_when_the_wait_ends_first() {
    let f = recorded().await;
    let none = view_at_least(&*f.store, &*f.views, &id("drains"), 0, Duration::ZERO).await;
    assert!(matches!(none, Err(AppError::NoView { .. })), "{none:?}");

    // A projection three events behind the log.
    let events = f.store.read(&id("drains"), 0, Some(2)).await.expect("read");
    let behind = roundtable_domain::Projection::fold(&events)
        .expect("fold")
        .view
        .expect("opened");
    f.views.put(&behind, None).await.expect("stored");
    let started = std::time::Instant::now();
    let served = view_at_least(
        &*f.store,
        &*f.views,
        &id("drains"),
        5,
        Duration::from_millis(300),
    )
    .await
    .expect("a view");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(served.behind);
    assert_eq!(served.view.version, 2);
    assert!(served.stale.is_none());

    // Waiting for a version the log does not hold ends at once at the log's last.
    let log_last = view_at_least(
        &*f.store,
        &*f.views,
        &id("drains"),
        2,
        Duration::from_secs(30),
    )
    .await
    .expect("a view");
    assert!(!log_last.behind);
}

/// A clock that always says the same time.
struct Fixed(DateTime<Utc>);

impl roundtable_app::Clock for Fixed {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Event ids 1, 2, 3... as UUIDs.
#[derive(Default)]
struct Counting(std::sync::atomic::AtomicU64);

impl roundtable_app::EventIds for Counting {
    fn next(&self) -> uuid::Uuid {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        uuid::Uuid::from_u128(u128::from(n))
    }
}

/// The handler records events at the injected clock's time with the injected ids, so
/// a test can fix both; the business time stays the command's own.
#[tokio::test]
async fn the_handler_takes_its_clock_and_event_ids_from_the_caller() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = roundtable_sqlite::open(dir.path()).expect("store");
    let at = parse_instant("2031-01-02T03:04:05Z").expect("an instant");
    let handler = CommandHandler::new(ports.events.clone())
        .with_clock(Arc::new(Fixed(at)))
        .with_event_ids(Arc::new(Counting::default()));
    record(&handler, MINUTES[..2].iter().copied()).await;
    let events = ports
        .events
        .read(&id("drains"), 0, None)
        .await
        .expect("read");
    let stamps: Vec<(u128, DateTime<Utc>)> = events
        .iter()
        .map(|e| (e.event_id.as_u128(), e.recorded_at))
        .collect();
    assert_eq!(stamps, vec![(1, at), (2, at)]);
    assert_eq!(
        events[0].occurred_at,
        parse_instant("2027-05-04T08:00:00Z").expect("an instant")
    );
}

/// The Fieldbrook minutes recorded in a fresh store: a partnership concluded, a
/// round that renegotiates its tariff clause, and a second conclusion.
async fn fieldbrook() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = roundtable_sqlite::open(dir.path()).expect("store");
    let views: Arc<dyn ViewStore> = Arc::new(KvViewStore::open(&*ports.kv).await.expect("views"));
    let store: Arc<dyn EventStore> = ports.events.clone();
    let handler = CommandHandler::new(store.clone());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/minutes/fieldbrook-sanitation.jsonl");
    record(
        &handler,
        std::fs::read_to_string(path).expect("read").lines(),
    )
    .await;
    Fixture {
        _dir: dir,
        store,
        views,
    }
}

/// The versions of the events of `types`, in order.
async fn versions_of(store: &dyn EventStore, types: &str) -> Vec<u64> {
    store
        .read(&id("fieldbrook-sanitation"), 0, None)
        .await
        .expect("read")
        .iter()
        .filter(|e| e.event_type() == types)
        .map(|e| e.version)
        .collect()
}

#[tokio::test]
async fn time_travel_inside_a_round_shows_the_agreement_in_force_beside_the_round() {
    use roundtable_domain::view::{NegotiationStatus, RoundStatus};
    let f = fieldbrook().await;
    let n = id("fieldbrook-sanitation");
    let concluded = versions_of(&*f.store, "negotiation_concluded").await;
    let opened = versions_of(&*f.store, "round_opened").await;
    let adopted = versions_of(&*f.store, "proposal_adopted").await;
    assert_eq!((concluded.len(), opened.len()), (2, 1));
    let (first, round, second) = (concluded[0], opened[0], concluded[1]);
    let in_round = *adopted.last().expect("the round's adoption");
    assert!(first < round && round < in_round && in_round < second);

    let at_first = view_as_of(&*f.store, &n, AsOf::Version(first))
        .await
        .expect("view")
        .view;
    let during = view_as_of(&*f.store, &n, AsOf::Version(in_round))
        .await
        .expect("view")
        .view;
    assert_eq!(during.status, NegotiationStatus::Renegotiating);
    assert_eq!(during.rounds[0].status, RoundStatus::Open);
    assert_eq!(
        during.in_force_agreement_version,
        Some(at_first.agreement_version),
        "the agreement of the last conclusion is still in force"
    );
    assert!(during.agreement_version > at_first.agreement_version);
    let tariff = |v: &roundtable_domain::AgreementView| v.clauses["tariff"].clone();
    assert_ne!(
        tariff(&during).text,
        tariff(&at_first).text,
        "the round's text"
    );

    // The agreement in force during the round is the view of the first conclusion,
    // with the tariff as it was agreed then.
    let in_force = roundtable_app::history::in_force_view(&*f.store, &n, in_round)
        .await
        .expect("in force")
        .expect("concluded once");
    assert_eq!(in_force, at_first);
    assert_eq!(tariff(&in_force).version + 1, tariff(&during).version);

    // After the second conclusion, the round's agreement is the one in force.
    let after = view_as_of(&*f.store, &n, AsOf::Version(second))
        .await
        .expect("view")
        .view;
    assert_eq!(after.status, NegotiationStatus::Concluded);
    assert_eq!(after.rounds[0].status, RoundStatus::Concluded);
    assert_eq!(
        after.rounds[0].concluded_agreement_version,
        Some(after.agreement_version)
    );
    assert_eq!(
        after.in_force_agreement_version,
        Some(after.agreement_version)
    );
    let in_force = roundtable_app::history::in_force_view(&*f.store, &n, second)
        .await
        .expect("in force")
        .expect("concluded");
    assert_eq!(in_force, after);
}

#[tokio::test]
async fn a_diff_across_a_round_shows_what_the_round_changed() {
    use roundtable_domain::view::NegotiationStatus;
    let f = fieldbrook().await;
    let n = id("fieldbrook-sanitation");
    let opened = versions_of(&*f.store, "round_opened").await[0];
    let second = versions_of(&*f.store, "negotiation_concluded").await[1];

    let opening = diff(&*f.store, &n, opened - 1, Some(opened))
        .await
        .expect("diff")
        .diff;
    assert_eq!(
        opening.status,
        Some((
            Some(NegotiationStatus::Concluded),
            NegotiationStatus::Renegotiating
        ))
    );
    let whole = diff(&*f.store, &n, opened - 1, Some(second))
        .await
        .expect("diff")
        .diff;
    assert_eq!(whole.status, None, "concluded before and after the round");
    let changed: Vec<&str> = whole
        .clauses_changed
        .iter()
        .map(|c| c.clause_id.as_str())
        .collect();
    assert_eq!(
        changed,
        ["tariff"],
        "the round renegotiated the tariff clause"
    );
    let made: Vec<&str> = whole
        .commitments_made
        .iter()
        .map(|c| c.commitment_id.as_str())
        .collect();
    assert_eq!(made, ["c-fbc-subsidy-2"]);
    assert!(whole.to_agreement_version > whole.from_agreement_version);
    assert!(
        whole.signatures_gained.len() >= 4,
        "every signatory signed the round's agreement"
    );
}
