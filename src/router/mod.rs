//! The router: reads statements and decides where they go. Pure: performs no I/O.
//!
//! Today it only classifies the statements that change session state, so the client loop can
//! keep them per client under transaction pooling. Shard-key routing arrives with shard maps.

pub mod lexer;
pub mod session_command;
