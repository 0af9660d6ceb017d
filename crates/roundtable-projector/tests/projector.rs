//! The projector over real stores, on both backends: views equal to the fold of the
//! log, resuming after a kill without applying anything twice, several projectors at
//! once, rebuilds, change notifications, lag, and parked entries.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    Env, FailingAck, NAME, Recorder, SECOND, assert_one_change_per_event,
    assert_views_are_the_fold, example, freshwater, import, second_negotiation, snapshot,
};
use futures::StreamExt;
use roundtable_projector::{Projector, ProjectorConfig};
use roundtable_store::{Change, StoreError};

both!(
    the_freshwater_minutes_project_once_and_rebuild_identically,
    interleaved_negotiations_project_to_the_fold,
    a_projector_killed_between_store_and_ack_applies_nothing_twice,
    two_projectors_at_once_give_correct_views,
    garbage_is_parked_and_later_events_still_project,
    garbage_on_a_negotiations_subject_marks_its_view_stale,
    golden_logs_import_and_project_to_their_frozen_views,
);

fn small_batches(batch_size: usize) -> ProjectorConfig {
    ProjectorConfig {
        batch_size,
        rebuild_batch_size: batch_size,
        poll_wait: Duration::from_millis(200),
        ..ProjectorConfig::default()
    }
}

fn backend(env: &Env) -> &'static str {
    if env.is_nats() { "nats" } else { "embedded" }
}

/// Waits for `count` change notifications on `subscriber` (a guard of a minute per
/// message against a hang).
async fn receive(subscriber: &mut async_nats::Subscriber, count: usize) -> Vec<(String, Change)> {
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(60), subscriber.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} notifications came", out.len()))
            .expect("subscription open");
        let change: Change = serde_json::from_slice(&message.payload).expect("a change as JSON");
        out.push((message.subject.to_string(), change));
    }
    out
}

async fn the_freshwater_minutes_project_once_and_rebuild_identically(env: Env) {
    let client = env.client().await;
    let recorded = import(client.events.clone(), &freshwater()).await;
    assert_eq!(recorded, 3748);
    let raw = if env.is_nats() {
        Some(env.raw_nats().await)
    } else {
        None
    };
    let mut subscriber = match &raw {
        Some(nats) => {
            let subscriber = nats
                .subscribe("roundtable.changes.>")
                .await
                .expect("subscribe");
            nats.flush().await.expect("flush");
            Some(subscriber)
        }
        None => None,
    };
    let recorder = Recorder::default();
    let mut projector = client.projector(NAME, &recorder).await;
    assert_eq!(
        projector.lag().await.expect("lag"),
        recorded,
        "nothing projected yet"
    );

    let started = Instant::now();
    let stats = projector.catch_up().await.expect("catch up");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}: projected the {recorded} events of the freshwater minutes in {seconds:.2} s ({:.0} events/s)",
        backend(&env),
        recorded as f64 / seconds
    );
    assert_eq!(
        (stats.applied, stats.skipped, stats.parked, stats.lag),
        (recorded, 0, 0, Some(0))
    );
    assert_eq!(assert_views_are_the_fold(&client).await, recorded);
    let changes = recorder.changes();
    assert_one_change_per_event(&client, &changes, true).await;
    let last = changes.last().expect("changes");
    let view = client
        .views
        .get(&last.negotiation_id)
        .await
        .expect("get")
        .expect("view");
    assert_eq!(
        (last.version, last.agreement_version, last.status),
        (
            view.view.version,
            view.view.agreement_version,
            view.view.status
        )
    );
    if let Some(subscriber) = subscriber.as_mut() {
        let received = receive(subscriber, changes.len()).await;
        for ((subject, change), recorded) in received.iter().zip(&changes) {
            assert_eq!(subject, "roundtable.changes.nz-freshwater");
            assert_eq!(change, recorded);
        }
    }

    let before = snapshot(&client).await;
    println!(
        "{}: the stored view of nz-freshwater is {} bytes of JSON",
        backend(&env),
        before[0].1.len()
    );
    let rebuilt = projector.rebuild().await.expect("rebuild");
    assert_eq!(
        (rebuilt.applied, rebuilt.parked, rebuilt.lag),
        (recorded, 0, Some(0))
    );
    assert!(
        snapshot(&client).await == before,
        "rebuilt views are byte-identical"
    );
    // Another process with the same name finds nothing left to do.
    let other = env.client().await;
    let mut again = other.projector(NAME, &Recorder::default()).await;
    let stats = again.catch_up().await.expect("catch up");
    assert_eq!((stats.applied, stats.skipped, stats.lag), (0, 0, Some(0)));
}

async fn interleaved_negotiations_project_to_the_fold(env: Env) {
    let client = env.client().await;
    // Imported at once, so the two logs interleave in the feed.
    let dir = tempfile::tempdir().expect("temp dir");
    let (second, harbourside) = (
        second_negotiation(dir.path()),
        example("harbourside-waste.jsonl"),
    );
    let (a, b) = tokio::join!(
        import(client.events.clone(), &second),
        import(client.events.clone(), &harbourside),
    );
    let recorder = Recorder::default();
    let mut projector = client
        .projector_with(NAME, &recorder, small_batches(7))
        .await;
    let stats = projector.catch_up().await.expect("catch up");
    assert_eq!((stats.applied, stats.skipped, stats.parked), (a + b, 0, 0));
    assert_eq!(assert_views_are_the_fold(&client).await, a + b);
    assert_one_change_per_event(&client, &recorder.changes(), true).await;

    // A restarted process resumes after the checkpoint: nothing again.
    let other = env.client().await;
    let mut restarted = other.projector(NAME, &recorder).await;
    let stats = restarted.catch_up().await.expect("catch up");
    assert_eq!((stats.applied, stats.skipped), (0, 0));
    let before = snapshot(&client).await;
    restarted.rebuild().await.expect("rebuild");
    assert!(
        snapshot(&client).await == before,
        "rebuilt views are byte-identical"
    );
}

async fn a_projector_killed_between_store_and_ack_applies_nothing_twice(env: Env) {
    let client = env.client().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let total = import(client.events.clone(), &second_negotiation(dir.path())).await
        + import(client.events.clone(), &example("harbourside-waste.jsonl")).await;
    let recorder = Recorder::default();
    let first_applied = {
        let feed = FailingAck {
            inner: client.feed(NAME).await,
            acks: 0,
            fail_from: 4,
        };
        let mut projector = Projector::new(
            client.events.clone(),
            client.views.clone(),
            Box::new(feed),
            Arc::new(recorder.clone()),
        )
        .with_config(small_batches(20));
        for _ in 0..3 {
            assert_eq!(projector.step().await.expect("step"), 20);
        }
        // The fourth batch is stored and its changes announced, then the process
        // dies before acknowledging it.
        let died = projector.step().await;
        assert!(matches!(died, Err(StoreError::Unavailable(_))), "{died:?}");
        assert_eq!(projector.stats().applied, 80);
        projector.stats().applied
    };
    let other = env.client().await;
    let mut restarted = other
        .projector_with(NAME, &recorder, small_batches(20))
        .await;
    let stats = restarted.catch_up().await.expect("catch up");
    assert_eq!(
        first_applied + stats.applied,
        total,
        "every event applied once"
    );
    assert!(
        stats.skipped >= 20,
        "the unacknowledged batch came again: {stats:?}"
    );
    assert_eq!(stats.lag, Some(0));
    assert_views_are_the_fold(&client).await;
    assert_one_change_per_event(&client, &recorder.changes(), true).await;
}

async fn two_projectors_at_once_give_correct_views(env: Env) {
    let setup = env.client().await;
    let recorder = Recorder::default();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut running = Vec::new();
    for cache_capacity in [1, 1024] {
        let client = env.client().await;
        let config = ProjectorConfig {
            cache_capacity,
            ..small_batches(16)
        };
        let mut projector = client.projector_with(NAME, &recorder, config).await;
        let mut stopped = stopped.clone();
        running.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            projector.run_until(shutdown).await.expect("run")
        }));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (second, harbourside) = (
        second_negotiation(dir.path()),
        example("harbourside-waste.jsonl"),
    );
    let (a, b) = tokio::join!(
        import(setup.events.clone(), &second),
        import(setup.events.clone(), &harbourside),
    );
    // Wait (at most ten minutes, against a hang) until the views have every event.
    let negotiations = setup.events.negotiations().await.expect("negotiations");
    let mut watcher = setup.feed(NAME).await;
    let mut rounds = 0;
    loop {
        let mut complete = watcher.lag().await.expect("lag") == 0;
        for n in &negotiations {
            let last = setup.events.last_version(n).await.expect("last");
            let stored = setup.views.get(n).await.expect("get");
            complete &= stored.is_some_and(|s| s.view.version == last);
        }
        if complete {
            break;
        }
        rounds += 1;
        assert!(rounds < 6000, "the projectors did not catch up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send_replace(true);
    let mut applied = 0;
    for task in running {
        applied += task.await.expect("projector task").applied;
    }
    assert_eq!(
        applied,
        a + b,
        "every event applied once, by one projector or the other"
    );
    assert_views_are_the_fold(&setup).await;
    assert_one_change_per_event(&setup, &recorder.changes(), false).await;
}

async fn garbage_is_parked_and_later_events_still_project(env: Env) {
    let client = env.client().await;
    env.record_garbage().await;
    let first = import(client.events.clone(), &example("harbourside-waste.jsonl")).await;
    let recorder = Recorder::default();
    let mut projector = client.projector(NAME, &recorder).await;
    let stats = projector.catch_up().await.expect("catch up");
    assert_eq!(
        (stats.applied, stats.parked, stats.lag),
        (first, 1, Some(0))
    );
    assert_views_are_the_fold(&client).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let later = import(client.events.clone(), &second_negotiation(dir.path())).await;
    let stats = projector.catch_up().await.expect("catch up");
    assert_eq!(
        (stats.applied, stats.parked, stats.lag),
        (later, 0, Some(0))
    );
    assert_eq!(assert_views_are_the_fold(&client).await, first + later);
    assert_one_change_per_event(&client, &recorder.changes(), true).await;
    let parked = client.views.parked().await.expect("parked");
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].negotiation_id, Some(nid("x")));
    assert!(
        client
            .views
            .stale(&nid("x"))
            .await
            .expect("stale")
            .is_some()
    );
    // A rebuild parks it again and rebuilds the rest.
    let rebuilt = projector.rebuild().await.expect("rebuild");
    assert_eq!((rebuilt.applied, rebuilt.parked), (first + later, 1));
    let again = client.views.parked().await.expect("parked");
    assert_eq!(
        again.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![parked[0].position]
    );
}

/// Something other than Roundtable writes a message that is not an event onto the
/// subject of a negotiation that has events: the projector parks it (once), keeps
/// projecting the other negotiations, keeps the negotiation's last good view and marks
/// it stale (not silently wrong), and the command side refuses to write after it.
async fn garbage_on_a_negotiations_subject_marks_its_view_stale(env: Env) {
    let client = env.client().await;
    let harbourside = nid("harbourside-waste");
    let other_negotiation = nid(SECOND);
    let first = import(client.events.clone(), &example("harbourside-waste.jsonl")).await;
    let recorder = Recorder::default();
    let mut projector = client.projector(NAME, &recorder).await;
    projector.catch_up().await.expect("catch up");
    let good = snapshot(&client).await;
    assert!(
        client
            .views
            .stale(&harbourside)
            .await
            .expect("stale")
            .is_none()
    );

    env.record_garbage_on(harbourside.as_str(), first + 1).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let later = import(client.events.clone(), &second_negotiation(dir.path())).await;
    let stats = projector.catch_up().await.expect("catch up");
    assert_eq!(
        (stats.applied, stats.parked, stats.lag),
        (later, 1, Some(0)),
        "{}: the garbage parked, the other negotiation projected",
        backend(&env)
    );
    // The other negotiation is the fold of its log.
    let folded = roundtable_app::load(&*client.events, &other_negotiation)
        .await
        .expect("load")
        .view
        .expect("opened");
    let stored = client
        .views
        .get(&other_negotiation)
        .await
        .expect("get")
        .expect("a view");
    assert_eq!(stored.view, folded);
    assert!(
        client
            .views
            .stale(&other_negotiation)
            .await
            .expect("stale")
            .is_none()
    );
    // The negotiation keeps its last good view, marked stale with the parked entry.
    let now = snapshot(&client).await;
    let kept = now.iter().find(|(n, _)| *n == harbourside).expect("kept");
    assert_eq!(Some(kept), good.iter().find(|(n, _)| *n == harbourside));
    let stale = client
        .views
        .stale(&harbourside)
        .await
        .expect("stale")
        .expect("the view is marked stale");
    assert_eq!(stale.negotiation_id, Some(harbourside.clone()));
    assert_eq!(stale.version, None, "it never decoded");
    assert!(
        stale.reason.contains("not JSON") || stale.reason.contains("JSON"),
        "{stale:?}"
    );
    assert_eq!(
        client.views.parked().await.expect("parked"),
        vec![stale.clone()]
    );
    // Nothing is written after an entry that cannot be read.
    let handler = roundtable_app::CommandHandler::new(client.events.clone());
    let refused = handler.handle(&sign_again(&harbourside)).await;
    assert!(
        matches!(
            &refused,
            Err(roundtable_app::HandleError::Store(
                StoreError::Corrupt { .. }
            ))
        ),
        "{refused:?}"
    );
    // A projector started later (another process) parks nothing new: the entry was
    // acknowledged with its batch.
    let mut other = client.projector(NAME, &recorder).await;
    let stats = other.catch_up().await.expect("catch up");
    assert_eq!((stats.applied, stats.parked), (0, 0));
    // A rebuild gives the same views and parks it again.
    let rebuilt = projector.rebuild().await.expect("rebuild");
    assert_eq!((rebuilt.applied, rebuilt.parked), (first + later, 1));
    assert_eq!(snapshot(&client).await, now);
    assert_eq!(
        client
            .views
            .stale(&harbourside)
            .await
            .expect("stale")
            .map(|e| e.position),
        Some(stale.position)
    );
}

fn nid(s: &str) -> roundtable_domain::NegotiationId {
    roundtable_domain::NegotiationId::new(s).expect("valid id")
}

/// Any command on `negotiation`: a concluded negotiation rejects it, but only after
/// its log has been read.
fn sign_again(
    negotiation: &roundtable_domain::NegotiationId,
) -> roundtable_domain::CommandEnvelope {
    use roundtable_domain::command::{Command, Sign};
    roundtable_domain::CommandEnvelope {
        command_id: roundtable_domain::CommandId::new("after-garbage").expect("id"),
        negotiation_id: negotiation.clone(),
        actor: roundtable_domain::Actor::Secretariat,
        occurred_at: chrono::Utc::now(),
        command: Command::Sign(Sign::default()),
    }
}

/// Every golden log of the domain crate (`testdata/logs/<name>.v<n>.jsonl`, events
/// at an older schema version once that version is no longer current) appended as
/// it is to a store, as `import-export` does, reads back through the store, projects,
/// and gives the view frozen beside it (`<name>.v<n>.view.json`: every frozen value
/// the same; fields added to the view since are allowed).
async fn golden_logs_import_and_project_to_their_frozen_views(env: Env) {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../roundtable-domain/testdata/logs");
    let mut logs: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("the golden logs")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    logs.sort();
    assert!(!logs.is_empty(), "no golden log in {}", dir.display());
    let client = env.client().await;
    for log in &logs {
        let text = std::fs::read(log).expect("read");
        let events: Vec<roundtable_domain::RecordedEvent> = text
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| roundtable_domain::RecordedEvent::decode(line).expect("decodes"))
            .collect();
        for e in &events {
            client.events.append(e).await.expect("append as it is");
        }
        let negotiation = &events[0].negotiation_id;
        assert_eq!(
            client
                .events
                .read(negotiation, 0, None)
                .await
                .expect("read back"),
            events,
            "{}",
            log.display()
        );
        let recorder = Recorder::default();
        let mut projector = client.projector(NAME, &recorder).await;
        projector.catch_up().await.expect("catch up");
        let stored = client
            .views
            .get(negotiation)
            .await
            .expect("get")
            .expect("a view");
        let folded = roundtable_app::load(&*client.events, negotiation)
            .await
            .expect("load");
        assert_eq!(Some(&stored.view), folded.view.as_ref());
        let frozen_path = log.with_extension("view.json");
        let frozen: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&frozen_path).expect("the frozen view"))
                .expect("JSON");
        let actual = serde_json::to_value(&stored.view).expect("JSON");
        if let Err(difference) = holds(&actual, &frozen, "view") {
            panic!(
                "{}: projected view differs from {}: {difference}",
                log.display(),
                frozen_path.display()
            );
        }
    }
}

/// Whether `actual` holds every value of `frozen` (objects may have more keys).
fn holds(actual: &serde_json::Value, frozen: &serde_json::Value, at: &str) -> Result<(), String> {
    use serde_json::Value;
    match (actual, frozen) {
        (Value::Object(a), Value::Object(f)) => f.iter().try_for_each(|(k, fv)| {
            a.get(k)
                .ok_or_else(|| format!("{at}.{k} is missing"))
                .and_then(|av| holds(av, fv, &format!("{at}.{k}")))
        }),
        (Value::Array(a), Value::Array(f)) if a.len() == f.len() => a
            .iter()
            .zip(f)
            .enumerate()
            .try_for_each(|(i, (av, fv))| holds(av, fv, &format!("{at}[{i}]"))),
        (a, f) if a == f => Ok(()),
        (a, f) => Err(format!("{at} is {a}, was {f}")),
    }
}
