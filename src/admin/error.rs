//! Errors of the admin console. None ends the session: the operator gets an ERROR and can
//! type the next command.

use tokio_postgres::error::SqlState;

use super::command::COMMANDS;
use crate::config::ConfigError;
use crate::error::{ClientError, Side};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("unknown admin command: {0}")]
    UnknownCommand(String),
    #[error("{0}")]
    BadArgument(&'static str),
    #[error("the admin console speaks the simple query protocol only (psql, simple_query)")]
    ExtendedProtocol,
    #[error("reload refused, the running config keeps serving:\n{0}")]
    Reload(ConfigError),
    #[error("no client with id {0}")]
    NoSuchClient(u64),
    #[error("no shard named {0:?} in any database's shard map")]
    NoSuchShard(String),
    #[error("PAUSE gave up after {waited_ms} ms: {busy} server connection(s) still checked out; the pause was lifted")]
    PauseTimeout { waited_ms: u64, busy: usize },
}

impl ClientError for AdminError {
    fn sqlstate(&self) -> SqlState {
        match self {
            Self::UnknownCommand(_) | Self::BadArgument(_) => SqlState::SYNTAX_ERROR,
            Self::ExtendedProtocol => SqlState::FEATURE_NOT_SUPPORTED,
            Self::Reload(_) => SqlState::CONFIG_FILE_ERROR,
            Self::NoSuchClient(_) | Self::NoSuchShard(_) => SqlState::UNDEFINED_OBJECT,
            Self::PauseTimeout { .. } => SqlState::OBJECT_IN_USE,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Self::UnknownCommand(_) | Self::BadArgument(_) | Self::ExtendedProtocol => {
                Some(format!("commands: {COMMANDS}"))
            }
            Self::Reload(_) => {
                Some("fix the files and RELOAD again; `shardgate check <config>` shows the same problems".into())
            }
            Self::NoSuchClient(_) => Some("SHOW CLIENTS lists the ids".into()),
            Self::NoSuchShard(_) => Some("SHOW SHARDS lists the shard names".into()),
            Self::PauseTimeout { .. } => Some(
                "clients in long transactions (or session-mode clients) hold servers; retry PAUSE when they finish"
                    .into(),
            ),
        }
    }

    fn client_message(&self) -> String {
        match self {
            // The hint lists the commands; the message says what was not understood.
            Self::UnknownCommand(text) => format!("unknown admin command: {text}; commands: {COMMANDS}"),
            other => other.to_string(),
        }
    }

    fn is_fatal(&self) -> bool {
        false
    }

    fn side(&self) -> Side {
        match self {
            Self::UnknownCommand(_)
            | Self::BadArgument(_)
            | Self::ExtendedProtocol
            | Self::NoSuchClient(_)
            | Self::NoSuchShard(_) => Side::Client,
            Self::Reload(_) | Self::PauseTimeout { .. } => Side::Internal,
        }
    }
}
