//! The client side: accepting connections, TLS negotiation, startup and authentication, and
//! the per-client loop that relays between the client and pooled servers.
//!
//! Owns: everything a client can observe. Depends on `pool`, `backend`, `router`, `protocol`.

mod cancel;
mod client;
mod error;
mod expect;
mod fanout;
mod handshake;
mod limits;
mod listener;
mod prepared;
mod relay;
mod replicas;
mod requests;
mod routing;
mod scatter;
mod timing;

pub use cancel::CancelRegistry;
pub use error::FrontendError;
pub use listener::{serve, Shared};

use std::fmt;

/// Identifies one client connection in logs and (later) the admin console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}
