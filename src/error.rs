//! The contract every layer's error enum keeps with clients: a SQLSTATE (from an exhaustive
//! match, no `_` arm), the text a client may see, an optional hint, and whether the session
//! survives. `Display` is for logs and may say more than `client_message`.

use tokio_postgres::error::SqlState;

/// Whose fault an error is, for logs and metrics (as pingora tags errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
    Internal,
}

pub trait ClientError: std::error::Error {
    fn sqlstate(&self) -> SqlState;
    /// The allowlisted text sent in the ErrorResponse.
    fn client_message(&self) -> String {
        self.to_string()
    }
    fn hint(&self) -> Option<String> {
        None
    }
    /// `true`: FATAL and the connection closes; `false`: ERROR and the session goes on.
    fn is_fatal(&self) -> bool;
    fn side(&self) -> Side;
}

/// Writes `e` as one ErrorResponse into `out`.
pub fn write_error(out: &mut bytes::BytesMut, e: &dyn ClientError) {
    let severity =
        if e.is_fatal() { crate::protocol::build::Severity::Fatal } else { crate::protocol::build::Severity::Error };
    crate::protocol::build::error_response(
        out,
        severity,
        e.sqlstate().code(),
        &e.client_message(),
        e.hint().as_deref(),
    );
}

/// Writes `e` as a FATAL ErrorResponse: anything that fails during login ends the connection.
pub fn write_fatal(out: &mut bytes::BytesMut, e: &dyn ClientError) {
    crate::protocol::build::error_response(
        out,
        crate::protocol::build::Severity::Fatal,
        e.sqlstate().code(),
        &e.client_message(),
        e.hint().as_deref(),
    );
}
