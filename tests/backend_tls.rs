//! TLS from shardgate to PostgreSQL: `tls: require` encrypts; `tls: verify-full` also checks the
//! server certificate against a CA and refuses a server it cannot verify.

// Tests fail by panicking; unwrap/expect keep them short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use support::{PgCluster, Proxy};

/// A CA and a server certificate for localhost/127.0.0.1 signed by it, written next to the
/// cluster's data; returns the CA's PEM path. PostgreSQL is switched to ssl=on.
async fn enable_server_tls(pg: &PgCluster) -> anyhow::Result<std::path::PathBuf> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?
        .signed_by(&key, &ca, &ca_key)?;
    let dir = pg.data_dir();
    let crt_path = dir.join("test-server.crt");
    let key_path = dir.join("test-server.key");
    std::fs::write(&crt_path, cert.pem())?;
    std::fs::write(&key_path, key.serialize_pem())?;
    give_to_postgres(&[&crt_path, &key_path])?;
    let ca_path = dir.parent().unwrap_or(dir).join("test-ca.pem");
    std::fs::write(&ca_path, ca.pem())?;
    for sql in [
        format!("ALTER SYSTEM SET ssl_cert_file = '{}'", crt_path.display()),
        format!("ALTER SYSTEM SET ssl_key_file = '{}'", key_path.display()),
        "ALTER SYSTEM SET ssl = on".to_string(),
    ] {
        pg.exec("postgres", &sql).await?;
    }
    pg.exec("postgres", "SELECT pg_reload_conf()").await?;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    Ok(ca_path)
}

/// PostgreSQL wants its key owned by the server's user with mode 0600.
fn give_to_postgres(files: &[&Path]) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for f in files {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600))?;
        // SAFETY-free uid check: root runs the cluster as `postgres` (see tests/support).
        let is_root = Command::new("id").arg("-u").output()?.stdout.starts_with(b"0\n");
        if is_root {
            let st = Command::new("chown").arg("postgres:").arg(f).status()?;
            anyhow::ensure!(st.success(), "chown failed");
        }
    }
    Ok(())
}

fn map(pg: &PgCluster, host: &str, tls: &str, ca: Option<&Path>) -> String {
    let ca = ca.map(|p| format!("      ca_file: {}\n", p.display())).unwrap_or_default();
    format!("version: 1\nshards:\n  - name: main\n    primary:\n      host: {host}\n      port: {}\n      database: pms\n      tls: {tls}\n{ca}", pg.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_encrypts_the_server_connection() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    enable_server_tls(&pg).await?;
    pg.ensure_role("app", "app").await?;
    pg.ensure_database("pms", "app").await?;
    let proxy = Proxy::builder(&pg).database_with_map("pms", &map(&pg, "127.0.0.1", "require", None)).start().await?;
    let c = proxy.connect("app", "app", "pms").await?;
    let ssl: bool = c.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await?.get(0);
    assert!(ssl, "the proxy's server connection must use TLS");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_checks_the_certificate() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let ca = enable_server_tls(&pg).await?;
    pg.ensure_role("app", "app").await?;
    pg.ensure_database("pms", "app").await?;
    let proxy =
        Proxy::builder(&pg).database_with_map("pms", &map(&pg, "localhost", "verify-full", Some(&ca))).start().await?;
    let c = proxy.connect("app", "app", "pms").await?;
    let ssl: bool = c.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await?.get(0);
    assert!(ssl);
    // Without the CA (system roots only) the server cannot be verified: the login fails with
    // 08001 and says why.
    let proxy =
        Proxy::builder(&pg).database_with_map("pms", &map(&pg, "localhost", "verify-full", None)).start().await?;
    let err = proxy.connect("app", "app", "pms").await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("08001") || text.contains("TLS"), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_fails_clearly_when_the_server_has_no_tls() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    pg.ensure_role("app", "app").await?;
    pg.ensure_database("pms", "app").await?;
    let proxy = Proxy::builder(&pg).database_with_map("pms", &map(&pg, "127.0.0.1", "require", None)).start().await?;
    let err = proxy.connect("app", "app", "pms").await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("does not support TLS"), "{text}");
    let proxy = Proxy::builder(&pg).database_with_map("pms", &map(&pg, "127.0.0.1", "prefer", None)).start().await?;
    proxy.connect("app", "app", "pms").await?.query_one("SELECT 1", &[]).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_of_a_tls_shard_use_tls_and_reads_reach_its_replica() -> anyhow::Result<()> {
    let pg = PgCluster::start_async().await?;
    let ca = enable_server_tls(&pg).await?;
    pg.ensure_role("app", "app").await?;
    pg.ensure_database("pms", "app").await?;
    // The replica copies the primary's TLS settings with its data.
    let replica = pg.start_replica_async().await?;
    let map = format!(
        "version: 1\nshards:\n  - name: main\n    primary: {{ host: localhost, port: {}, database: pms, tls: verify-full, ca_file: {} }}\n    \
         replicas: [ {{ host: 127.0.0.1, port: {}, database: pms, tls: require }} ]\n",
        pg.port(),
        ca.display(),
        replica.port()
    );
    let proxy = Proxy::builder(&pg)
        .database_with_map("pms", &map)
        .extra_yaml("replicas:\n  health_interval_ms: 100\n")
        .start()
        .await?;
    let c = proxy.connect("app", "app", "pms").await?;
    let start = std::time::Instant::now();
    loop {
        let port: i32 = c.query_one("SELECT inet_server_port()", &[]).await?.get(0);
        if port == i32::from(replica.port()) {
            break;
        }
        anyhow::ensure!(start.elapsed() < std::time::Duration::from_secs(10), "reads never reached the replica");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for server in [&pg, &replica] {
        let checks: i64 = server
            .client("postgres")
            .await?
            .query_one(
                "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
                 WHERE a.application_name = 'shardgate health check' AND s.ssl",
                &[],
            )
            .await?
            .get(0);
        assert_eq!(checks, 1, "the health check of {} runs over TLS", server.port());
    }
    Ok(())
}
