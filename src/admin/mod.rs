//! The admin console: database `shardgate`, open to the users listed in `admin_users`.
//! PgBouncer's commands with PgBouncer's column names where the concept is the same, plus
//! shardgate's own (SHOW SHARDS, SHOW ROUTE, PAUSE/RESUME per shard). See
//! docs/operations.md, "Admin console".
//!
//! Owns: parsing console statements and answering them from the running instance's state
//! (config, pools, health board, client registry, metrics). Must never sit on the data path:
//! the only things application clients touch are the registry (at login/logout, an atomic on
//! checkout/release) and the pause gate (an atomic per checkout).

mod command;
mod error;
mod kill_client;
mod pause;
pub mod registry;
mod reload;
mod session;
mod show_clients;
mod show_config;
mod show_databases;
mod show_pools;
pub mod show_route;
mod show_servers;
mod show_shards;
mod show_stats;
mod show_version;
mod shutdown;
pub mod stop_signal;
mod table;

use bytes::BytesMut;

pub use command::{AdminCommand, Show, COMMANDS};
pub use error::AdminError;
pub use registry::{ClientEntry, ClientRegistry, ClientState, NewClient, Registration};
pub use session::{serve, AdminLogin};

use crate::frontend::Shared;

/// Runs one command, appending its result set or CommandComplete to `out`.
pub async fn execute(cmd: AdminCommand, shared: &Shared, out: &mut BytesMut) -> Result<(), AdminError> {
    let table = match cmd {
        AdminCommand::Show(what) => match what {
            Show::Pools => show_pools::run(shared),
            Show::Stats => show_stats::run(shared),
            Show::Servers => show_servers::run(shared),
            Show::Clients => show_clients::run(shared),
            Show::Databases => show_databases::run(shared),
            Show::Config => show_config::run(shared),
            Show::Version => show_version::run(),
            Show::Shards => show_shards::run(shared),
        },
        AdminCommand::ShowRoute { first_word, rest, whole } => show_route::run(shared, &first_word, &rest, &whole),
        AdminCommand::Reload => {
            reload::run(shared)?;
            return done(out, "RELOAD");
        }
        AdminCommand::Pause(shard) => {
            pause::pause(shared, shard.as_deref()).await?;
            return done(out, "PAUSE");
        }
        AdminCommand::Resume(shard) => {
            pause::resume(shared, shard.as_deref())?;
            return done(out, "RESUME");
        }
        AdminCommand::KillClient(id) => {
            kill_client::run(shared, id)?;
            return done(out, "KILL_CLIENT");
        }
        AdminCommand::Shutdown => {
            shutdown::run(shared);
            return done(out, "SHUTDOWN");
        }
    };
    table.write(out, "SHOW");
    Ok(())
}

fn done(out: &mut BytesMut, tag: &str) -> Result<(), AdminError> {
    crate::protocol::build::command_complete(out, tag);
    Ok(())
}
