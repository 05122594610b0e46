//! The bounded intake: requests reserve room for their alerts (a semaphore of `capacity`
//! permits, one per alert) or are refused at once; one writer task drains the queue and commits
//! many requests in one store transaction. A request is answered only after its alerts are
//! committed, so an accepted alert is never lost, and a refused one was never accepted.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::store::{DedupPolicy, IncidentStore, Incoming, Outcome, StoreError};

/// Why a request was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The queue has no room for this many alerts now.
    Full,
    /// The writer is gone (shutting down).
    Closed,
}

struct Job {
    items: Vec<Incoming>,
    reply: oneshot::Sender<Result<Vec<Outcome>, StoreError>>,
    _permit: OwnedSemaphorePermit,
}

/// Handle of the intake queue (cheap to clone).
#[derive(Clone)]
pub struct Intake {
    tx: mpsc::UnboundedSender<Job>,
    permits: Arc<Semaphore>,
    capacity: usize,
}

/// Most alerts committed in one transaction.
pub const MAX_BATCH: usize = 8192;

impl Intake {
    /// Starts the writer task (needs a Tokio runtime). `created` is notified when a batch opened
    /// incidents (the workflow runner waits on it).
    pub fn start(
        store: Arc<dyn IncidentStore>,
        policy: DedupPolicy,
        capacity: usize,
        metrics: Arc<Metrics>,
        created: Arc<Notify>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let permits = Arc::new(Semaphore::new(capacity));
        metrics.intake_capacity.set(capacity as i64);
        tokio::spawn(writer(rx, store, policy, metrics, permits.clone(), capacity, created));
        Self { tx, permits, capacity }
    }

    /// Queue capacity in alerts.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Alerts queued and not yet committed.
    pub fn depth(&self) -> usize {
        self.capacity.saturating_sub(self.permits.available_permits())
    }

    /// Reserves room and queues the alerts; the receiver yields their outcomes once committed.
    pub fn submit(&self, items: Vec<Incoming>) -> Result<oneshot::Receiver<Result<Vec<Outcome>, StoreError>>, Refusal> {
        let n = u32::try_from(items.len().max(1)).map_err(|_| Refusal::Full)?;
        let permit = match self.permits.clone().try_acquire_many_owned(n) {
            Ok(p) => p,
            Err(tokio::sync::TryAcquireError::NoPermits) => return Err(Refusal::Full),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(Refusal::Closed),
        };
        let (reply, rx) = oneshot::channel();
        self.tx.send(Job { items, reply, _permit: permit }).map_err(|_| Refusal::Closed)?;
        Ok(rx)
    }
}

async fn writer(
    mut rx: mpsc::UnboundedReceiver<Job>,
    store: Arc<dyn IncidentStore>,
    policy: DedupPolicy,
    metrics: Arc<Metrics>,
    permits: Arc<Semaphore>,
    capacity: usize,
    created: Arc<Notify>,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut n = jobs[0].items.len();
        while n < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => {
                    n += j.items.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        metrics.intake_depth.set(capacity.saturating_sub(permits.available_permits()) as i64);
        let mut all = Vec::with_capacity(n);
        let mut sizes = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        for j in jobs {
            sizes.push(j.items.len());
            all.extend(j.items);
            replies.push((j.reply, j._permit));
        }
        let started = Instant::now();
        let span = tracing::debug_span!("ingest_batch", alerts = all.len(), requests = sizes.len());
        let result = store.ingest(&all, &policy).instrument(span).await;
        metrics.step("ingest", started.elapsed());
        match result {
            Ok(outcomes) if outcomes.len() == all.len() => {
                if outcomes.iter().any(|o| matches!(o, Outcome::Created(_))) {
                    created.notify_one();
                }
                let mut it = outcomes.into_iter();
                for ((reply, permit), size) in replies.into_iter().zip(sizes) {
                    let part: Vec<Outcome> = it.by_ref().take(size).collect();
                    drop(permit);
                    let _ = reply.send(Ok(part));
                }
            }
            Ok(outcomes) => {
                let e = StoreError(format!("store returned {} outcomes for {} alerts", outcomes.len(), all.len()));
                for (reply, _permit) in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "ingest batch failed");
                for (reply, _permit) in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
        metrics.intake_depth.set(capacity.saturating_sub(permits.available_permits()) as i64);
    }
}
