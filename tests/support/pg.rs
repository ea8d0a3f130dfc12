//! One private PostgreSQL cluster per fixture: `initdb` into a temporary directory, a free
//! port, stopped and deleted on `Drop`.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root (CI, containers) the
//! directory is handed to the `postgres` OS user and every server-side program runs through
//! `runuser -u postgres --`. Client programs (psql, pgbench) run as the calling user: they
//! connect over TCP with a password, like an application would.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::{chown, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, PoisonError};

use anyhow::{bail, Context};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

/// Every cluster listens on IPv4 loopback only; the proxy's shard maps point here too.
const HOST: &str = "127.0.0.1";
const SUPERUSER: &str = "postgres";
const SUPERUSER_PASSWORD: &str = "postgres";
/// The unprivileged OS user that owns the cluster when the tests run as root.
const OS_USER: &str = "postgres";
/// Overrides the search below, for machines where PostgreSQL is not under /usr/lib/postgresql.
const BIN_DIR_VAR: &str = "SHARDGATE_PG_BIN";
/// Where Debian and Ubuntu install each major version: `/usr/lib/postgresql/<major>/bin`.
const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";
/// A port picked by `free_port` can be taken by someone else before the server binds it;
/// such a start is retried on a fresh port this many times in all.
const START_ATTEMPTS: usize = 5;

/// Settings for throwaway servers. Durability is off because a crashed test cluster is thrown
/// away anyway; shared memory is small because many clusters run at once; max_connections
/// leaves room for pool-exhaustion tests.
const SERVER_SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", HOST),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("max_connections", "200"),
    ("shared_buffers", "32MB"),
    ("max_wal_size", "256MB"),
    ("log_min_messages", "warning"),
];

/// Ports handed out by this process and not yet reused. The only state shared between tests:
/// it keeps two clusters started in the same instant from being given the same port.
static HANDED_OUT_PORTS: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A running PostgreSQL cluster owned by one test. Stopped (immediate mode) and its directory
/// deleted when dropped.
pub struct PgCluster {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    log_file: PathBuf,
    port: u16,
    /// Server-side programs go through `runuser -u postgres` (we are root).
    as_os_user: bool,
    /// Declared last so it is deleted after `Drop::drop` has stopped the server.
    dir: tempfile::TempDir,
}

impl PgCluster {
    /// Initialises and starts a cluster; takes about a second. Blocking: from async code
    /// prefer [`PgCluster::start_async`] or [`PgCluster::start_many`], or call it before
    /// anything else (an in-process proxy above all) runs on the runtime.
    pub fn start() -> anyhow::Result<PgCluster> {
        let bin_dir = pg_bin_dir()?;
        let as_os_user = is_root();
        let dir = tempfile::Builder::new()
            .prefix("shardgate-pg-")
            .tempdir()
            .context("creating the cluster's temporary directory")?;
        if as_os_user {
            give_to_os_user(dir.path())?;
        }
        let mut cluster = PgCluster {
            bin_dir,
            data_dir: dir.path().join("data"),
            log_file: dir.path().join("postgres.log"),
            port: 0,
            as_os_user,
            dir,
        };
        cluster.initdb()?;
        cluster.start_on_free_port()?;
        Ok(cluster)
    }

    /// [`PgCluster::start`] on tokio's blocking pool, so the runtime keeps serving meanwhile.
    pub async fn start_async() -> anyhow::Result<PgCluster> {
        tokio::task::spawn_blocking(PgCluster::start).await.context("the cluster start task panicked")?
    }

    /// Starts `n` clusters in parallel (for tests that need separate servers: a shard down, a
    /// replica). Routing tests should prefer one cluster holding several databases.
    pub async fn start_many(n: usize) -> anyhow::Result<Vec<PgCluster>> {
        let starts: Vec<_> = (0..n).map(|_| tokio::task::spawn_blocking(PgCluster::start)).collect();
        let mut clusters = Vec::with_capacity(n);
        for start in starts {
            clusters.push(start.await.context("a cluster start task panicked")??);
        }
        Ok(clusters)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn host(&self) -> &'static str {
        HOST
    }

    /// Path of a PostgreSQL program (`psql`, `pgbench`, `pg_basebackup`…) of the version
    /// this cluster runs.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log; attach it to a failure message when the server's view matters.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// A libpq connection string for the superuser, for programs that take one.
    pub fn superuser_url(&self, db: &str) -> String {
        format!(
            "host={HOST} port={} user={SUPERUSER} password={SUPERUSER_PASSWORD} dbname={}",
            self.port,
            conninfo_value(db)
        )
    }

    /// Connection settings for any role, over TCP (so SCRAM is used, as `--auth-host` says).
    pub fn config(&self, user: &str, password: &str, db: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config.host(HOST).port(self.port).user(user).password(password).dbname(db).application_name("shardgate-tests");
        config
    }

    /// A direct superuser connection, bypassing the proxy (for setup and for checking what
    /// actually reached the server).
    pub async fn client(&self, db: &str) -> anyhow::Result<Client> {
        connect(&self.config(SUPERUSER, SUPERUSER_PASSWORD, db)).await
    }

    /// A direct connection as `user`.
    pub async fn client_as(&self, user: &str, password: &str, db: &str) -> anyhow::Result<Client> {
        connect(&self.config(user, password, db)).await
    }

    /// Runs `sql` (several statements allowed) as the superuser in `db`.
    pub async fn exec(&self, db: &str, sql: &str) -> anyhow::Result<()> {
        self.client(db).await?.batch_execute(sql).await.with_context(|| format!("running in {db}: {sql}"))
    }

    /// `CREATE ROLE name LOGIN PASSWORD 'password'`; stored as a SCRAM verifier (the
    /// PostgreSQL default for `password_encryption`).
    pub async fn create_role(&self, name: &str, password: &str) -> anyhow::Result<()> {
        let sql = format!("CREATE ROLE {} LOGIN PASSWORD {}", quote_ident(name), quote_literal(password));
        self.exec("postgres", &sql).await
    }

    /// Creates the role, or resets its password and LOGIN if it exists already.
    pub async fn ensure_role(&self, name: &str, password: &str) -> anyhow::Result<()> {
        let client = self.client("postgres").await?;
        let (name, password) = (quote_ident(name), quote_literal(password));
        match client.batch_execute(&format!("CREATE ROLE {name} LOGIN PASSWORD {password}")).await {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::DUPLICATE_OBJECT) => client
                .batch_execute(&format!("ALTER ROLE {name} LOGIN PASSWORD {password}"))
                .await
                .with_context(|| format!("altering role {name}")),
            Err(e) => Err(e).with_context(|| format!("creating role {name}")),
        }
    }

    /// `CREATE DATABASE name OWNER owner`. The owner may create tables in its `public`
    /// schema (PostgreSQL 15 no longer grants that to everyone).
    pub async fn create_database(&self, name: &str, owner: &str) -> anyhow::Result<()> {
        let sql = format!("CREATE DATABASE {} OWNER {}", quote_ident(name), quote_ident(owner));
        self.exec("postgres", &sql).await
    }

    /// Creates the database unless it exists (whoever owns it then).
    pub async fn ensure_database(&self, name: &str, owner: &str) -> anyhow::Result<()> {
        match self.create_database(name, owner).await {
            Err(e)
                if e.downcast_ref::<tokio_postgres::Error>().and_then(|e| e.code())
                    == Some(&SqlState::DUPLICATE_DATABASE) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// A client program of this cluster's version, set up (through its environment) to
    /// reach `port` on 127.0.0.1 as `user`: this cluster's port, or a proxy's in front of it.
    pub fn client_command(&self, program: &str, port: u16, user: &str, password: &str, db: &str) -> Command {
        client_command(&self.bin(program), port, user, password, db)
    }

    /// `psql -X -v ON_ERROR_STOP=1 <args>` as the superuser against database `postgres`
    /// (`-d` in `args` picks another). Check the result with [`succeeded`]. Blocking, which
    /// is fine for the cluster (its own process); through a proxy use `Proxy::psql`.
    pub fn psql(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.client_command("psql", self.port, SUPERUSER, SUPERUSER_PASSWORD, "postgres")
            .args(["-X", "-v", "ON_ERROR_STOP=1"])
            .args(args)
            .output()
            .context("running psql")
    }

    /// `pgbench <args>` as the superuser against database `postgres`.
    pub fn pgbench(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.client_command("pgbench", self.port, SUPERUSER, SUPERUSER_PASSWORD, "postgres")
            .args(args)
            .output()
            .context("running pgbench")
    }

    /// Stops the server (for "shard down" tests): open connections are cut, new ones are
    /// refused; [`PgCluster::start_again`] brings it back. Fast mode, not immediate: with
    /// `synchronous_commit=off` a crash would lose the last commits, and tests that restart a
    /// shard expect its data back.
    pub fn stop(&self) -> anyhow::Result<()> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.args(["stop", "-w", "-m", "fast", "-D"]).arg(&self.data_dir);
        run(cmd).map(drop).context("stopping the cluster")
    }

    /// A streaming replica of this cluster: `pg_basebackup -R` into a temporary directory,
    /// started on a free port. It follows this cluster until promoted; dropped like any
    /// cluster.
    pub fn start_replica(&self) -> anyhow::Result<PgCluster> {
        let dir = tempfile::Builder::new()
            .prefix("shardgate-replica-")
            .tempdir()
            .context("creating the replica's temporary directory")?;
        if self.as_os_user {
            give_to_os_user(dir.path())?;
        }
        let mut replica = PgCluster {
            bin_dir: self.bin_dir.clone(),
            data_dir: dir.path().join("data"),
            log_file: dir.path().join("postgres.log"),
            port: 0,
            as_os_user: self.as_os_user,
            dir,
        };
        let mut cmd = replica.server_command("pg_basebackup");
        cmd.arg("-D")
            .arg(&replica.data_dir)
            .args(["-h", HOST, "-p", &self.port.to_string(), "-U", SUPERUSER])
            .args(["-R", "-X", "stream", "--no-sync", "-c", "fast"])
            .env("PGPASSWORD", SUPERUSER_PASSWORD);
        run(cmd).context("pg_basebackup")?;
        replica.start_on_free_port()?;
        Ok(replica)
    }

    /// [`PgCluster::start_replica`] on the blocking pool.
    pub async fn start_replica_async(&self) -> anyhow::Result<PgCluster> {
        tokio::task::block_in_place(|| self.start_replica())
    }

    /// Promotes a replica to primary (`pg_ctl promote`), as a failover tool would.
    pub fn promote(&self) -> anyhow::Result<()> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.args(["promote", "-w", "-t", "30", "-D"]).arg(&self.data_dir);
        run(cmd).map(drop).context("promoting the replica")
    }

    /// Kills the server the way a crash does (immediate mode: no shutdown checkpoint, every
    /// connection cut at once).
    pub fn kill(&self) -> anyhow::Result<()> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.args(["stop", "-w", "-m", "immediate", "-D"]).arg(&self.data_dir);
        run(cmd).map(drop).context("killing the cluster")
    }

    /// Starts a stopped cluster again on the same port.
    pub fn start_again(&self) -> anyhow::Result<()> {
        run(self.pg_ctl_start(self.port)).map(drop).with_context(|| format!("restarting the cluster\n{}", self.log()))
    }

    fn initdb(&self) -> anyhow::Result<()> {
        let pwfile = self.dir.path().join("superuser-password");
        fs::write(&pwfile, SUPERUSER_PASSWORD).context("writing the password file")?;
        if self.as_os_user {
            give_to_os_user(&pwfile)?;
        }
        let mut cmd = self.server_command("initdb");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .args(["-U", SUPERUSER])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["--auth-host=scram-sha-256", "--auth-local=trust"])
            .args(["--encoding=UTF8", "--locale=C", "--no-sync"]);
        run(cmd).context("initdb")?;
        fs::remove_file(&pwfile).context("removing the password file")
    }

    fn start_on_free_port(&mut self) -> anyhow::Result<()> {
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port()?;
            let log_before = self.log().len();
            let output = self.pg_ctl_start(port).output().context("running pg_ctl start")?;
            if output.status.success() {
                self.port = port;
                return Ok(());
            }
            let log = self.log();
            let this_attempt = log.get(log_before..).unwrap_or(&log);
            if this_attempt.contains("Address already in use") && attempt < START_ATTEMPTS {
                continue;
            }
            bail!(
                "pg_ctl start on port {port} failed ({})\n{}{}\nserver log:\n{this_attempt}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
            );
        }
        bail!("no free port after {START_ATTEMPTS} attempts")
    }

    fn pg_ctl_start(&self, port: u16) -> Command {
        // pg_ctl hands `-o` to a shell; the temp path has no quotes in it, so quoting it with
        // '…' is enough.
        let mut options = format!("-p {port} -k '{}'", self.dir.path().display());
        for (name, value) in SERVER_SETTINGS {
            // Writing to a String cannot fail.
            let _ = write!(options, " -c {name}={value}");
        }
        let mut cmd = self.server_command("pg_ctl");
        cmd.args(["start", "-w", "-t", "60", "-D"])
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file)
            .arg("-o")
            .arg(options);
        cmd
    }

    /// A server-side program, run as the cluster's owner, from inside the temp directory
    /// (the caller's working directory may be unreadable to `postgres`).
    fn server_command(&self, program: &str) -> Command {
        let mut cmd = if self.as_os_user {
            let mut cmd = Command::new(runuser());
            cmd.args(["-u", OS_USER, "--"]).arg(self.bin(program));
            cmd
        } else {
            Command::new(self.bin(program))
        };
        cmd.current_dir(self.dir.path())
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST")
            .stdin(Stdio::null());
        cmd
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Immediate mode: no checkpoint, the directory is deleted next anyway. Errors are
        // ignored: the server may never have started, or a test stopped it already.
        let mut cmd = self.server_command("pg_ctl");
        cmd.args(["stop", "-w", "-m", "immediate", "-D"])
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = cmd.status();
        let mut ports = HANDED_OUT_PORTS.lock().unwrap_or_else(PoisonError::into_inner);
        ports.remove(&self.port);
    }
}

/// Connects and spawns the connection task on the current runtime.
pub(super) async fn connect(config: &tokio_postgres::Config) -> anyhow::Result<Client> {
    let (client, connection) = config.connect(NoTls).await.with_context(|| {
        format!("connecting to {:?}:{:?} as {:?}", config.get_hosts(), config.get_ports(), config.get_user())
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("test connection ended with an error: {e}");
        }
    });
    Ok(client)
}

/// `program` with the libpq environment set to reach 127.0.0.1:`port` as `user`. The
/// password goes through `Command::env`, never the test process's own environment, which
/// parallel tests share.
pub(super) fn client_command(program: &Path, port: u16, user: &str, password: &str, db: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("PGHOST", HOST)
        .env("PGPORT", port.to_string())
        .env("PGUSER", user)
        .env("PGPASSWORD", password)
        .env("PGDATABASE", db)
        .env("PGAPPNAME", "shardgate-tests")
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGSERVICE")
        .env_remove("PGOPTIONS")
        .env_remove("PGSSLMODE")
        .env_remove("PGPASSFILE")
        .stdin(Stdio::null());
    cmd
}

/// The stdout of a client program that exited 0; otherwise an error carrying all its output.
pub fn succeeded(output: Output) -> anyhow::Result<String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("exited with {}\nstdout:\n{stdout}\nstderr:\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    Ok(stdout)
}

/// The newest PostgreSQL server bin directory: `$SHARDGATE_PG_BIN` if set, else the highest
/// version under /usr/lib/postgresql (Debian/Ubuntu layout). Never a fixed version, so the
/// tests follow whatever the machine's packages provide.
pub fn pg_bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_VAR) {
        let dir = PathBuf::from(dir);
        if !dir.join("initdb").is_file() {
            bail!("{BIN_DIR_VAR}={} has no initdb", dir.display());
        }
        return Ok(dir);
    }
    let entries = fs::read_dir(DEBIAN_PG_ROOT).with_context(|| {
        format!("no {DEBIAN_PG_ROOT}: install PostgreSQL (scripts/test.sh does) or set {BIN_DIR_VAR}")
    })?;
    let mut newest: Option<(Vec<u32>, PathBuf)> = None;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(version) = name.to_str().and_then(parse_version) else {
            continue;
        };
        let bin = entry.path().join("bin");
        if bin.join("initdb").is_file() && newest.as_ref().is_none_or(|(v, _)| version > *v) {
            newest = Some((version, bin));
        }
    }
    newest.map(|(_, bin)| bin).with_context(|| {
        format!(
            "no {DEBIAN_PG_ROOT}/*/bin/initdb: \
             install the PostgreSQL server (scripts/test.sh does)"
        )
    })
}

/// "15" → [15], "9.6" → [9, 6]; anything else is not a version directory.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn free_port() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let port = TcpListener::bind((HOST, 0))
            .and_then(|listener| listener.local_addr())
            .context("binding 127.0.0.1:0 to find a free port")?
            .port();
        let mut ports = HANDED_OUT_PORTS.lock().unwrap_or_else(PoisonError::into_inner);
        if ports.insert(port) {
            return Ok(port);
        }
    }
    bail!("the OS kept offering ports this process already handed out")
}

fn is_root() -> bool {
    // /proc/self belongs to the process's effective user. Without /proc, ask `id`.
    match fs::metadata("/proc/self") {
        Ok(meta) => meta.uid() == 0,
        Err(_) => Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0"),
    }
}

fn give_to_os_user(path: &Path) -> anyhow::Result<()> {
    let id = |flag: &str| -> anyhow::Result<u32> {
        let out = Command::new("id").args([flag, OS_USER]).output().context("running id")?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim().parse().with_context(|| {
            format!(
                "no OS user {OS_USER:?}, which PostgreSQL needs when tests run as root; \
                 scripts/test.sh creates it"
            )
        })
    };
    chown(path, Some(id("-u")?), Some(id("-g")?)).with_context(|| format!("chown {OS_USER} {}", path.display()))
}

fn runuser() -> &'static str {
    ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .into_iter()
        .find(|path| Path::new(path).is_file())
        .unwrap_or("runuser")
}

fn run(mut cmd: Command) -> anyhow::Result<Output> {
    let output = cmd.output().with_context(|| format!("starting {:?}", cmd.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} {:?} exited with {}\n{}{}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// SQL identifier quoting, as `quote_ident` does in PostgreSQL.
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// SQL string literal quoting (standard_conforming_strings is on by default).
pub(super) fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A libpq conninfo value: bare when safe, else single-quoted with \ escapes.
fn conninfo_value(value: &str) -> String {
    let bare = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if bare {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}
