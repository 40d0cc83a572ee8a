//! Registered clients, read from the store once per `ttl` rather than at
//! every token request: a token request then costs a hash and a signature,
//! no round trip. A client deleted here is forgotten at once; one deleted
//! through another replica of the auth-api may still get tokens from this
//! one until its entry is `ttl` old (docs/decisions.md, "Client cache").
//! A zero `ttl` reads the store every time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::store::{ClientRecord, Store, StoreError};

/// Most clients kept; past it, the expired entries go, then all of them.
const MAX_ENTRIES: usize = 10_000;

/// Clients read recently, by id. Unknown ids are not kept, so guessing
/// ids fills nothing.
pub struct ClientCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Arc<ClientRecord>, Instant)>>,
    /// Bumped by every [`ClientCache::forget`]: a read that started before
    /// a deletion does not put the deleted client back.
    forgotten: AtomicU64,
}

impl ClientCache {
    /// A cache keeping each client for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::default(),
            forgotten: AtomicU64::new(0),
        }
    }

    /// The client with this id: kept, or read from `store` and kept.
    pub async fn get(
        &self,
        store: &dyn Store,
        client_id: &str,
    ) -> Result<Option<Arc<ClientRecord>>, StoreError> {
        if let Some((client, read)) = self.entries.read().expect("not poisoned").get(client_id)
            && read.elapsed() < self.ttl
        {
            return Ok(Some(client.clone()));
        }
        let generation = self.forgotten.load(Ordering::Acquire);
        let Some(client) = store.client(client_id).await?.map(Arc::new) else {
            return Ok(None);
        };
        if !self.ttl.is_zero() {
            let mut entries = self.entries.write().expect("not poisoned");
            if self.forgotten.load(Ordering::Acquire) == generation {
                if entries.len() >= MAX_ENTRIES {
                    entries.retain(|_, (_, read)| read.elapsed() < self.ttl);
                    if entries.len() >= MAX_ENTRIES {
                        entries.clear();
                    }
                }
                entries.insert(client_id.to_owned(), (client.clone(), Instant::now()));
            }
        }
        Ok(Some(client))
    }

    /// Forgets a client, when it is deleted.
    pub fn forget(&self, client_id: &str) {
        let mut entries = self.entries.write().expect("not poisoned");
        self.forgotten.fetch_add(1, Ordering::AcqRel);
        entries.remove(client_id);
    }
}
