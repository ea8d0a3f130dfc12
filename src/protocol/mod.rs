//! PostgreSQL wire protocol (v3): framing of untrusted bytes, typed views of the few messages
//! shardgate inspects, and builders for the ones it originates.
//!
//! Owns: byte-level correctness. Must never: do I/O, depend on anything else in the crate, or
//! panic on peer input (indexing is denied here; every read is checked).
//! Reference: <https://www.postgresql.org/docs/current/protocol-message-formats.html>.
#![deny(clippy::indexing_slicing)]

pub mod build;
pub mod cursor;
pub mod error;
pub mod frame;
pub mod messages;
pub mod startup;

pub use error::ProtocolError;
pub use frame::{peek_frame, split_frame, Frame, FrameRef};
