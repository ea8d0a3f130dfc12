//! Read-only views of the pools for the metrics endpoint, kept apart from the pooling logic.
//! A child module, so it reads the private fields without widening them.

use super::{PoolKey, Pools};
use crate::shardmap::Endpoint;

impl Pools {
    /// Every pool's key and server with its state (idle and total connections, waits) now. Takes
    /// the pools lock only to copy the list, not while reading each pool's state.
    pub fn states(&self) -> Vec<(PoolKey, Endpoint, super::PoolState)> {
        let pools: Vec<_> = {
            let map = self.pools.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            map.values().cloned().collect()
        };
        pools.iter().map(|p| (p.key.clone(), p.endpoint.clone(), p.state())).collect()
    }
}
