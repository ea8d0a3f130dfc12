//! shardgate started in-process in front of a [`PgCluster`], from a config written the way an
//! operator would write it (shardgate.yaml + a shard map), so the tests also exercise loading.
//!
//! ```ignore
//! let pg = PgCluster::start()?;
//! let proxy = Proxy::builder(&pg)
//!     .database("pms")
//!     .user("app", "app", "scram-sha-256")
//!     .start()
//!     .await?;
//! let client = proxy.connect("app", "app", "pms").await?;
//! ```

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{anyhow, Context};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::pg::{self, quote_ident, PgCluster};

/// One logical database of the config and the shard map that serves it.
struct Database {
    name: String,
    map: ShardMap,
}

enum ShardMap {
    /// One shard: `database` on the builder's cluster (shardgate as a pure pooler).
    Single { database: String },
    /// A map written by the test, verbatim (several shards, rules, replicas).
    Yaml(String),
}

struct User {
    name: String,
    password: String,
    auth: String,
}

struct Tls {
    cert: PathBuf,
    key: PathBuf,
    mode: String,
}

/// Describes a proxy to start. Without `.database()` it serves `pms`; without `.user()` it
/// lets in `app`/`app` by SCRAM. Unless `.no_provision()`, `start` also creates the users as
/// roles on the cluster (same password: the proxy logs in to PostgreSQL with it) and the
/// single-shard databases, owned by the first user.
pub struct ProxyBuilder<'a> {
    cluster: &'a PgCluster,
    databases: Vec<Database>,
    users: Vec<User>,
    pool_mode: String,
    pool_size: u32,
    max_client_conn: u32,
    checkout_timeout_ms: u64,
    query_timeout_ms: u64,
    max_message_size: u64,
    max_prepared_per_server: u32,
    /// pool.min_idle, pool.idle_timeout_s, pool.lifetime_s.
    upkeep: (u32, u64, u64),
    tls: Option<Tls>,
    extra_yaml: String,
    provision: bool,
    /// `metrics.listen`; port 0 by default so parallel tests never fight over 9930.
    metrics_listen: String,
}

impl ProxyBuilder<'_> {
    /// A logical database served by the cluster's database of the same name.
    pub fn database(self, name: &str) -> Self {
        self.database_on(name, name)
    }

    /// A logical database served by a differently named database on the cluster.
    pub fn database_on(mut self, name: &str, server_database: &str) -> Self {
        self.databases
            .push(Database { name: name.to_owned(), map: ShardMap::Single { database: server_database.to_owned() } });
        self
    }

    /// A logical database served by a shard map the test writes itself (`version: 1`,
    /// `shards: …`); [`PgCluster::port`] gives the ports to put in it. Not provisioned.
    pub fn database_with_map(mut self, name: &str, shard_map_yaml: &str) -> Self {
        self.databases.push(Database { name: name.to_owned(), map: ShardMap::Yaml(shard_map_yaml.to_owned()) });
        self
    }

    /// A user clients may log in as. `auth`: "scram-sha-256" | "md5" | "trust".
    pub fn user(mut self, name: &str, password: &str, auth: &str) -> Self {
        self.users.push(User { name: name.to_owned(), password: password.to_owned(), auth: auth.to_owned() });
        self
    }

    /// "transaction" (default) | "session".
    pub fn pool_mode(mut self, mode: &str) -> Self {
        self.pool_mode = mode.to_owned();
        self
    }

    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size;
        self
    }

    pub fn max_client_conn(mut self, n: u32) -> Self {
        self.max_client_conn = n;
        self
    }

    pub fn checkout_timeout_ms(mut self, ms: u64) -> Self {
        self.checkout_timeout_ms = ms;
        self
    }

    /// 0 = no limit (the default).
    pub fn query_timeout_ms(mut self, ms: u64) -> Self {
        self.query_timeout_ms = ms;
        self
    }

    /// How many proxy-named prepared statements each server keeps (pool.max_prepared_per_server).
    pub fn max_prepared_per_server(mut self, n: u32) -> Self {
        self.max_prepared_per_server = n;
        self
    }

    /// pool.min_idle, pool.idle_timeout_s and pool.lifetime_s (defaults 0, 600, 3600).
    pub fn pool_upkeep(mut self, min_idle: u32, idle_timeout_s: u64, lifetime_s: u64) -> Self {
        self.upkeep = (min_idle, idle_timeout_s, lifetime_s);
        self
    }

    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// TLS towards clients. `mode`: "disable" | "allow" | "require".
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>, mode: &str) -> Self {
        self.tls = Some(Tls { cert: cert.into(), key: key.into(), mode: mode.to_owned() });
        self
    }

    /// Top-level YAML appended to the config verbatim. It must not repeat a key the builder
    /// writes (listen, tls, databases, users, pool, limits, shutdown_timeout_ms): duplicate
    /// keys are a config error.
    pub fn extra_yaml(mut self, yaml: &str) -> Self {
        self.extra_yaml.push_str(yaml);
        if !yaml.ends_with('\n') {
            self.extra_yaml.push('\n');
        }
        self
    }

    /// `metrics.listen` (an address or `off`); the default is a port the OS picks.
    pub fn metrics_listen(mut self, listen: &str) -> Self {
        self.metrics_listen = listen.to_owned();
        self
    }

    /// Leaves the cluster alone: no roles or databases created (for tests about what happens
    /// when the server side is missing or disagrees).
    pub fn no_provision(mut self) -> Self {
        self.provision = false;
        self
    }

    /// Writes the config into a temp dir, provisions the cluster, loads the config through
    /// `Config::load` and starts the server on 127.0.0.1 with a port the OS picks.
    pub async fn start(mut self) -> anyhow::Result<Proxy> {
        super::init_tracing();
        if self.databases.is_empty() {
            self = self.database("pms");
        }
        if self.users.is_empty() {
            self = self.user("app", "app", "scram-sha-256");
        }
        if self.provision {
            self.provision_cluster().await?;
        }
        let dir = tempfile::Builder::new()
            .prefix("shardgate-proxy-")
            .tempdir()
            .context("creating the proxy's temporary directory")?;
        let config_path = self.write_files(dir.path())?;
        let config = shardgate::config::Config::load(&config_path).map_err(|e| {
            anyhow!(
                "loading {}: {e}\n--- config ---\n{}",
                config_path.display(),
                fs::read_to_string(&config_path).unwrap_or_default()
            )
        })?;
        let running = shardgate::server::start(config).await.map_err(|e| anyhow!("starting shardgate: {e}"))?;
        Ok(Proxy {
            addr: running.local_addr,
            metrics_addr: running.metrics_addr,
            token: running.shutdown_token(),
            running: Some(running),
            config_path,
            bin_dir: self.cluster.bin_dir().to_path_buf(),
            dir,
        })
    }

    async fn provision_cluster(&self) -> anyhow::Result<()> {
        for user in &self.users {
            self.cluster.ensure_role(&user.name, &user.password).await?;
        }
        let Some(owner) = self.users.first() else {
            return Ok(());
        };
        for db in &self.databases {
            let ShardMap::Single { database } = &db.map else {
                continue;
            };
            self.cluster.ensure_database(database, &owner.name).await?;
            let mut grants = String::new();
            for user in self.users.iter().skip(1) {
                let role = quote_ident(&user.name);
                let _ = writeln!(grants, "GRANT ALL ON SCHEMA public TO {role};");
            }
            if !grants.is_empty() {
                self.cluster.exec(database, &grants).await?;
            }
        }
        Ok(())
    }

    /// Writes shardgate.yaml and one map file per database; returns the config's path.
    /// Map paths in the config are relative, as the config format defines them.
    fn write_files(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let mut yaml = String::new();
        // Writing to a String cannot fail; `let _ =` keeps the builder free of unwrap.
        let _ = writeln!(yaml, "listen: \"127.0.0.1:0\"");
        match &self.tls {
            None => yaml.push_str("tls:\n  mode: disable\n"),
            Some(tls) => {
                let _ = writeln!(yaml, "tls:\n  mode: {}", yaml_str(&tls.mode));
                let _ = writeln!(yaml, "  cert: {}", yaml_str(&tls.cert.to_string_lossy()));
                let _ = writeln!(yaml, "  key: {}", yaml_str(&tls.key.to_string_lossy()));
            }
        }
        yaml.push_str("databases:\n");
        for (i, db) in self.databases.iter().enumerate() {
            let map_file = format!("map-{i}.yaml");
            let map_yaml = match &db.map {
                ShardMap::Single { database } => single_shard_map(self.cluster, database),
                ShardMap::Yaml(text) => text.clone(),
            };
            fs::write(dir.join(&map_file), map_yaml).context("writing a shard map")?;
            let _ = writeln!(yaml, "  {}:\n    shard_map: {map_file}", yaml_str(&db.name));
        }
        yaml.push_str("users:\n");
        for user in &self.users {
            let _ = writeln!(yaml, "  - name: {}", yaml_str(&user.name));
            let _ = writeln!(yaml, "    password: {}", yaml_str(&user.password));
            let _ = writeln!(yaml, "    auth: {}", yaml_str(&user.auth));
        }
        let _ = write!(
            yaml,
            "pool:\n  mode: {}\n  size: {}\n  min_idle: {}\n  max_client_conn: {}\n  \
             checkout_timeout_ms: {}\n  idle_timeout_s: {}\n  lifetime_s: {}\n  \
             query_timeout_ms: {}\n  reset_query: DISCARD ALL\n  max_prepared_per_server: {}\n",
            yaml_str(&self.pool_mode),
            self.pool_size,
            self.upkeep.0,
            self.max_client_conn,
            self.checkout_timeout_ms,
            self.upkeep.1,
            self.upkeep.2,
            self.query_timeout_ms,
            self.max_prepared_per_server,
        );
        let _ = writeln!(yaml, "limits:\n  max_message_size: {}", self.max_message_size);
        // Short, so a test that shuts the proxy down with a client still connected ends soon.
        yaml.push_str("shutdown_timeout_ms: 2000\n");
        let _ = writeln!(yaml, "metrics:\n  listen: {}", yaml_str(&self.metrics_listen));
        yaml.push_str(&self.extra_yaml);
        let path = dir.join("shardgate.yaml");
        fs::write(&path, yaml).context("writing shardgate.yaml")?;
        Ok(path)
    }
}

fn single_shard_map(cluster: &PgCluster, database: &str) -> String {
    format!(
        "version: 1\nshards:\n  - name: main\n    primary:\n      \
         host: {}\n      port: {}\n      database: {}\n",
        cluster.host(),
        cluster.port(),
        yaml_str(database)
    )
}

/// A YAML double-quoted scalar (the JSON escapes, which YAML shares).
fn yaml_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A running in-process shardgate. Dropping it cancels the server without waiting; call
/// [`Proxy::shutdown`] to wait for a graceful stop.
pub struct Proxy {
    running: Option<shardgate::server::Running>,
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    token: CancellationToken,
    config_path: PathBuf,
    bin_dir: PathBuf,
    /// Holds the config and maps; deleted last.
    dir: tempfile::TempDir,
}

impl Proxy {
    pub fn builder(cluster: &PgCluster) -> ProxyBuilder<'_> {
        ProxyBuilder {
            cluster,
            databases: Vec::new(),
            users: Vec::new(),
            pool_mode: "transaction".to_owned(),
            pool_size: 10,
            max_client_conn: 200,
            checkout_timeout_ms: 5000,
            query_timeout_ms: 0,
            max_message_size: 64 * 1024 * 1024,
            max_prepared_per_server: 200,
            upkeep: (0, 600, 3600),
            tls: None,
            extra_yaml: String::new(),
            provision: true,
            metrics_listen: "127.0.0.1:0".to_owned(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Where `GET /metrics` answers (`None` when the builder turned metrics off).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The written shardgate.yaml, for reload tests that edit it.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// `postgres://user:password@127.0.0.1:port/db`, percent-encoded.
    pub fn url(&self, user: &str, password: &str, db: &str) -> String {
        format!("postgres://{}:{}@{}/{}", percent_encode(user), percent_encode(password), self.addr, percent_encode(db))
    }

    /// Connection settings through the proxy, for tests that need more than [`Proxy::connect`]
    /// (TLS, options, timeouts).
    pub fn config(&self, user: &str, password: &str, db: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(self.addr.ip().to_string())
            .port(self.addr.port())
            .user(user)
            .password(password)
            .dbname(db)
            .application_name("shardgate-tests");
        config
    }

    /// A client connected through the proxy without TLS; its connection task is spawned.
    pub async fn connect(&self, user: &str, password: &str, db: &str) -> anyhow::Result<Client> {
        pg::connect(&self.config(user, password, db)).await
    }

    /// `psql -X -v ON_ERROR_STOP=1 <args>` through the proxy. Check with [`super::succeeded`].
    /// Async because the proxy runs on the test's runtime: waiting for psql on the runtime's
    /// only thread (`#[tokio::test]` is single-threaded) would leave nobody to answer it.
    pub async fn psql(&self, user: &str, password: &str, db: &str, args: &[&str]) -> anyhow::Result<Output> {
        let mut cmd = pg::client_command(&self.bin_dir.join("psql"), self.port(), user, password, db);
        cmd.args(["-X", "-v", "ON_ERROR_STOP=1"]).args(args);
        output_off_runtime(cmd).await.context("running psql")
    }

    /// `pgbench <args>` through the proxy; async for the same reason as [`Proxy::psql`].
    pub async fn pgbench(&self, user: &str, password: &str, db: &str, args: &[&str]) -> anyhow::Result<Output> {
        let mut cmd = pg::client_command(&self.bin_dir.join("pgbench"), self.port(), user, password, db);
        cmd.args(args);
        output_off_runtime(cmd).await.context("running pgbench")
    }

    /// Reloads the config and maps as SIGHUP would; `Err` when the new files are invalid.
    pub fn reload(&self) -> anyhow::Result<()> {
        let running = self.running.as_ref().ok_or_else(|| anyhow!("the proxy is stopped"))?;
        running.reload().map_err(|e| anyhow!("{e}"))
    }

    /// The directory holding shardgate.yaml and the maps (`map-<i>.yaml`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Cancels the server from outside, as a signal handler would.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Graceful shutdown; returns when the server has stopped.
    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if self.running.is_some() {
            self.token.cancel();
        }
    }
}

/// Runs a client program on tokio's blocking pool and waits for it.
async fn output_off_runtime(mut cmd: Command) -> anyhow::Result<Output> {
    Ok(tokio::task::spawn_blocking(move || cmd.output()).await??)
}

/// RFC 3986: everything but the unreserved characters is %-escaped.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}
