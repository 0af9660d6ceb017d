//! The change reader: one negotiation's changes read from its event log, in version
//! order, with no gap (what Server-Sent Events replay after `Last-Event-ID`).

use roundtable_domain::{Change, ChangeDeriver, ChangeError, NegotiationId, RecordedEvent};
use roundtable_store::{EventStore, StoreError};

/// Events read per request while skipping ahead.
const PAGE: usize = 1_000;

/// Reads one negotiation's changes from the log, folding as it reads
/// ([`ChangeDeriver`]).
#[derive(Debug, Clone)]
pub struct ChangeReader {
    deriver: ChangeDeriver,
}

impl ChangeReader {
    /// A reader before the first event of `negotiation`.
    pub fn new(negotiation: NegotiationId) -> ChangeReader {
        ChangeReader {
            deriver: ChangeDeriver::new(negotiation),
        }
    }

    /// The negotiation read.
    pub fn negotiation(&self) -> &NegotiationId {
        self.deriver.negotiation()
    }

    /// The version folded so far: the next change returned is the one after it.
    pub fn version(&self) -> u64 {
        self.deriver.version()
    }

    /// Folds the events up to `version` (or the last recorded, if fewer) without
    /// returning their changes, a page of 1,000 events at a time: the next
    /// [`ChangeReader::read`] starts after it.
    ///
    /// # Errors
    /// The store's errors; [`StoreError::Corrupt`] (naming the negotiation and the
    /// version) when the log does not fold.
    pub async fn skip_to(
        &mut self,
        store: &dyn EventStore,
        version: u64,
    ) -> Result<(), StoreError> {
        while self.version() < version {
            let wanted = usize::try_from(version - self.version()).unwrap_or(usize::MAX);
            let events = store
                .read(self.negotiation(), self.version(), Some(wanted.min(PAGE)))
                .await?;
            if events.is_empty() {
                return Ok(());
            }
            for e in &events {
                self.apply(e)?;
            }
        }
        Ok(())
    }

    /// The changes of up to `limit` (at least 1) events after
    /// [`ChangeReader::version`], in order; empty when there are none yet.
    ///
    /// # Errors
    /// As [`ChangeReader::skip_to`].
    pub async fn read(
        &mut self,
        store: &dyn EventStore,
        limit: usize,
    ) -> Result<Vec<Change>, StoreError> {
        let events = store
            .read(self.negotiation(), self.version(), Some(limit.max(1)))
            .await?;
        events.iter().map(|e| self.apply(e)).collect()
    }

    /// Applies the next event and returns its change.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when it does not follow on.
    pub fn apply(&mut self, event: &RecordedEvent) -> Result<Change, StoreError> {
        let negotiation = self.negotiation().to_string();
        self.deriver
            .apply(event)
            .map_err(|e| corrupt(negotiation, &e))
    }
}

/// A [`ChangeError`] as the store's `Corrupt`, naming the negotiation and position.
fn corrupt(negotiation: String, e: &ChangeError) -> StoreError {
    StoreError::Corrupt {
        negotiation,
        position: format!("version {}", e.version),
        reason: e.reason.clone(),
    }
}
