//! The conformance suite on the in-memory store.

use std::sync::Arc;

use aiops_server::store::{IncidentStore, MemoryStore, conformance};

#[tokio::test]
async fn memory_store_conforms() {
    conformance::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn IncidentStore> }).await;
}
