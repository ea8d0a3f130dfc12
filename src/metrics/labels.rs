//! Label sets. Every label value comes from an enum or a name the config defines, so the
//! number of series is bounded by the config, never by client traffic.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};

use crate::router::{Route, Target};

/// What the router decided for a statement of a sharded database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// One shard, found from the shard key or a hint.
    Single,
    /// No sharded table: whichever shard the client holds, else the first.
    Any,
    /// A read across several shards, merged by the proxy.
    Scatter,
    /// DDL or a session command run on every shard.
    Broadcast,
    /// A multi-row INSERT split by shard.
    Split,
    /// Refused with an ErrorResponse (cannot be routed or merged correctly).
    Refused,
}

impl RouteKind {
    /// In discriminant order: `RouteKind as usize` indexes arrays built from this.
    pub const ALL: [RouteKind; 6] =
        [Self::Single, Self::Any, Self::Scatter, Self::Broadcast, Self::Split, Self::Refused];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Any => "any",
            Self::Scatter => "scatter",
            Self::Broadcast => "broadcast",
            Self::Split => "split",
            Self::Refused => "refused",
        }
    }

    /// `Err`: routing failed before a decision (e.g. a directory lookup), which the client
    /// sees as a refusal.
    pub fn of<E>(decision: &Result<Route, E>) -> Self {
        let Ok(route) = decision else { return Self::Refused };
        match &route.target {
            Target::Shard(_) => Self::Single,
            Target::Shards(v) if v.len() == 1 => Self::Single,
            Target::Shards(_) => Self::Scatter,
            Target::Any => Self::Any,
            Target::All => Self::Broadcast,
            Target::Split(_) => Self::Split,
            // A lookup still unresolved after the lookup rounds is answered with an error.
            Target::Refuse(_) | Target::Lookup(_) => Self::Refused,
        }
    }
}

impl EncodeLabelValue for RouteKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: RouteKind,
}

/// The SQLSTATE class: the code's first two characters (`0A`, `08`, `57`…). Classes are a
/// fixed set of the standard, and the class is what alerts are written against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ErrorLabels {
    pub class: String,
    pub source: ErrorSource,
}

/// Who wrote an ErrorResponse a client received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorSource {
    /// shardgate itself: refusals, pool timeouts, lost servers, login failures, and a failed
    /// shard's error in a read across shards (re-worded to name the shard).
    Proxy,
    /// PostgreSQL, relayed unchanged.
    Server,
}

impl EncodeLabelValue for ErrorSource {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let s = match self {
            Self::Proxy => "proxy",
            Self::Server => "server",
        };
        std::fmt::Write::write_str(encoder, s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReloadResult {
    /// Validated and swapped in.
    Ok,
    /// Refused; the running config keeps serving.
    Failed,
}

impl EncodeLabelValue for ReloadResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let s = match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
        };
        std::fmt::Write::write_str(encoder, s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ReloadLabels {
    pub result: ReloadResult,
}

/// Which per-tenant cap refused a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TenantLimit {
    Transactions,
    Statements,
}

impl EncodeLabelValue for TenantLimit {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let s = match self {
            Self::Transactions => "transactions",
            Self::Statements => "statements",
        };
        std::fmt::Write::write_str(encoder, s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct TenantLimitLabels {
    pub limit: TenantLimit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_kinds_index_their_own_slot() {
        for (i, k) in RouteKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{k:?}");
        }
    }
}
