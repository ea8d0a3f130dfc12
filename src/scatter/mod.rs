//! scatter: reads that span shards. Owns merge plans (how a SELECT is rewritten for the
//! shards and how their answers combine), value decoding and comparison as PostgreSQL does
//! them, and the merge state. Only this module decodes DataRow values.
//!
//! Planning and merging are pure; `shard.rs` is the one task that talks to a server, and the
//! frontend (`frontend/scatter.rs`) drives it and writes what comes out.

pub mod analyse;
mod describe;
pub mod error;
pub mod group;
pub mod having;
pub mod layout;
pub mod merge;
pub mod plan;
pub mod planner;
pub mod shard;
pub mod value;

#[cfg(test)]
mod tests;

pub use error::ScatterError;
pub use plan::MergePlan;
