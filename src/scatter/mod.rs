//! scatter: reads that span shards. Owns merge plans (how a SELECT is rewritten for the
//! shards and how their answers combine), value decoding and comparison as PostgreSQL does
//! them, and the merge state. Only this module decodes DataRow values.
//!
//! Planning is pure; the frontend feeds the shards' frames in and writes what comes out.

pub mod analyse;
mod describe;
pub mod error;
pub mod plan;

pub use error::ScatterError;
pub use plan::MergePlan;
