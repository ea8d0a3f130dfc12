//! The directory behind `lookup` sharding functions: key → shard name, answered by a query on
//! the function's endpoint and cached with a bound and a TTL.
//!
//! The router stays pure: it reads this cache through [`DirectoryView`] and, on a miss, asks
//! the client loop to [`Directory::resolve`] the key and route again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio_postgres::types::{IsNull, ToSql, Type};

use crate::config::UserConfig;
use crate::frontend::FrontendError;
use crate::router::Lookups;
use crate::shardmap::function::LookupSpec;
use crate::shardmap::{FunctionIdx, FunctionKind, KeyValue, ShardMap, ShardName, ShardingFunction};

/// How long one directory query may take, connection included.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// (function name, key) → (shard, when it was fetched).
type Cache = HashMap<(String, Vec<KeyValue>), (ShardName, Instant)>;

#[derive(Default)]
pub struct Directory {
    cache: Mutex<Cache>,
}

impl Directory {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        match self.cache.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A view for one map version, as the router wants it.
    pub fn view<'a>(&'a self, map: &'a ShardMap) -> DirectoryView<'a> {
        DirectoryView { dir: self, map }
    }

    fn get(&self, f: &ShardingFunction, key: &[KeyValue]) -> Option<ShardName> {
        let FunctionKind::Lookup(spec) = &f.kind else { return None };
        let cache = self.lock();
        let (shard, at) = cache.get(&(f.name.clone(), key.to_vec()))?;
        (at.elapsed() < spec.ttl).then(|| shard.clone())
    }

    /// Queries the directory for `key` and caches the answer. A key the directory does not
    /// know is an error: guessing a shard would put rows where no one finds them.
    pub async fn resolve(
        &self,
        f: &ShardingFunction,
        key: &[KeyValue],
        user: &UserConfig,
    ) -> Result<(), FrontendError> {
        let FunctionKind::Lookup(spec) = &f.kind else { return Ok(()) };
        let shard = tokio::time::timeout(QUERY_TIMEOUT, query(spec, key, user))
            .await
            .map_err(|_| FrontendError::Lookup(format!("directory query of `{}` timed out", f.name)))??;
        let Some(shard) = shard else {
            let shown: Vec<String> = key.iter().map(ToString::to_string).collect();
            return Err(FrontendError::Lookup(format!(
                "the directory of `{}` has no shard for key ({})",
                f.name,
                shown.join(", ")
            )));
        };
        let mut cache = self.lock();
        if cache.len() >= spec.cache_size.max(1) {
            // Bounded: drop what expired; if that is not enough, start over (a burst of
            // misses costs queries, never memory).
            cache.retain(|_, (_, at)| at.elapsed() < spec.ttl);
            if cache.len() >= spec.cache_size.max(1) {
                cache.clear();
            }
        }
        cache.insert((f.name.clone(), key.to_vec()), (ShardName::new(shard), Instant::now()));
        Ok(())
    }
}

async fn query(spec: &LookupSpec, key: &[KeyValue], user: &UserConfig) -> Result<Option<String>, FrontendError> {
    let client = super::control::connect(&spec.endpoint, user, "shardgate directory", QUERY_TIMEOUT)
        .await
        .map_err(|e| FrontendError::Lookup(format!("directory connection: {e}")))?;
    let rows = async {
        let stmt = client.prepare(&spec.query).await?;
        let values: Vec<Box<dyn ToSql + Sync + Send>> =
            stmt.params().iter().zip(key).map(|(ty, k)| param(ty, k)).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| &**v as &(dyn ToSql + Sync)).collect();
        client.query(&stmt, &refs).await
    }
    .await;
    drop(client);
    let rows = rows.map_err(|e| FrontendError::Lookup(format!("directory query: {e}")))?;
    if rows.len() > 1 {
        return Err(FrontendError::Lookup("the directory returned more than one shard for a key".into()));
    }
    Ok(rows.first().and_then(|r| r.try_get::<_, Option<String>>(0).ok().flatten()))
}

/// A key value encoded for the directory query's own parameter type.
fn param(ty: &Type, key: &KeyValue) -> Box<dyn ToSql + Sync + Send> {
    match key {
        KeyValue::Int(v) if *ty == Type::INT4 => Box::new(i32::try_from(*v).unwrap_or(i32::MAX)),
        KeyValue::Int(v) if *ty == Type::INT2 => Box::new(i16::try_from(*v).unwrap_or(i16::MAX)),
        KeyValue::Int(v) if *ty == Type::INT8 => Box::new(*v),
        KeyValue::Uuid(u) if *ty == Type::UUID => Box::new(RawUuid(*u)),
        KeyValue::Text(s) => Box::new(s.clone()),
        other => Box::new(other.to_string()),
    }
}

/// A uuid in its binary wire form (the `with-uuid` feature would pull in a crate for this).
#[derive(Debug)]
struct RawUuid([u8; 16]);

impl ToSql for RawUuid {
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }
    tokio_postgres::types::to_sql_checked!();
}

/// The router's window on the cache for one map version.
pub struct DirectoryView<'a> {
    dir: &'a Directory,
    map: &'a ShardMap,
}

impl Lookups for DirectoryView<'_> {
    fn get(&self, function: FunctionIdx, key: &[KeyValue]) -> Option<ShardName> {
        let f = self.map.function(function)?;
        self.dir.get(f, key)
    }
}
