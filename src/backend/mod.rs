//! One connection to a PostgreSQL server: connect (TCP or TLS), startup, authentication with
//! the configured credentials, and the per-server state the pool and the client loop need
//! (session settings applied, prepared statements present).
//!
//! Must never: decode DataRows (replies are relayed as raw frames by the client loop).

mod connect;
mod error;
mod prepared;
mod server;

pub use connect::{connect, ConnectParams};
pub use error::BackendError;
pub use prepared::ServerPrepared;
pub use server::{CancelTarget, Server};
