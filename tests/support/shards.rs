//! N shards as N databases of one real cluster (enough for routing: each shard is its own
//! database, so a row is on exactly one of them), with the PMS tables, and a shard map over
//! them. Placement is checked against PostgreSQL itself (`hashint8extended`), not against
//! shardgate's own code.

use std::fmt::Write as _;

use super::pg::PgCluster;

/// The four quarters of the signed 64-bit hash space, in shard order.
pub const QUARTERS: [(Option<i64>, Option<i64>); 4] = [
    (None, Some(-4_611_686_018_427_387_904)),
    (Some(-4_611_686_018_427_387_904), Some(0)),
    (Some(0), Some(4_611_686_018_427_387_904)),
    (Some(4_611_686_018_427_387_904), None),
];

/// Tables every shard has. `currencies` is a reference table; `brand_properties` is keyed by
/// (brand_id, region_code); `room_blocks` by property_id through a directory.
pub const SCHEMA: &str = "
CREATE TABLE reservations (tenant_id bigint NOT NULL, reservation_id bigint NOT NULL, guest text,
                           PRIMARY KEY (tenant_id, reservation_id));
CREATE TABLE guests (tenant_id bigint NOT NULL, guest_id bigint NOT NULL, name text);
CREATE TABLE brand_properties (brand_id text NOT NULL, region_code text NOT NULL, name text);
CREATE TABLE room_blocks (property_id bigint NOT NULL, rooms int);
CREATE TABLE currencies (code text PRIMARY KEY, name text);
";

pub struct Shards {
    pub databases: Vec<String>,
    /// Database holding `property_shards (property_id bigint, shard text)`.
    pub directory: String,
}

impl Shards {
    /// Creates `prefix_0 … prefix_{n-1}` and `prefix_dir`, owned by `owner` (who must exist),
    /// each with [`SCHEMA`].
    pub async fn create(pg: &PgCluster, prefix: &str, n: usize, owner: (&str, &str)) -> anyhow::Result<Shards> {
        let mut databases = Vec::new();
        for i in 0..n {
            let db = format!("{prefix}_{i}");
            pg.create_database(&db, owner.0).await?;
            pg.client_as(owner.0, owner.1, &db).await?.batch_execute(SCHEMA).await?;
            databases.push(db);
        }
        let directory = format!("{prefix}_dir");
        pg.create_database(&directory, owner.0).await?;
        pg.client_as(owner.0, owner.1, &directory)
            .await?
            .batch_execute("CREATE TABLE property_shards (property_id bigint PRIMARY KEY, shard text NOT NULL)")
            .await?;
        Ok(Shards { databases, directory })
    }

    pub fn shard_name(i: usize) -> String {
        format!("shard-{i}")
    }

    /// A map: tenant_id hashed into quarters (4 shards), brand/region listed, property_id
    /// looked up, `currencies` a reference table, anything else refused.
    pub fn map_yaml(&self, pg: &PgCluster) -> String {
        let mut y = String::from("version: 1\nshards:\n");
        for (i, db) in self.databases.iter().enumerate() {
            let _ = writeln!(
                y,
                "  - name: {}\n    primary: {{ host: {}, port: {}, database: {db} }}",
                Self::shard_name(i),
                pg.host(),
                pg.port()
            );
        }
        y.push_str("functions:\n  - name: tenant_hash\n    kind: hash\n    key: bigint\n    ranges:\n");
        for (i, (from, to)) in QUARTERS.iter().enumerate().take(self.databases.len()) {
            let mut r = String::new();
            if let Some(f) = from {
                let _ = write!(r, "from: {f}, ");
            }
            if let Some(t) = to {
                let _ = write!(r, "to: {t}, ");
            }
            let _ = writeln!(y, "      - {{ {r}shard: {} }}", Self::shard_name(i));
        }
        let _ = write!(
            y,
            "  - name: brand_region\n    kind: list\n    key: [text, text]\n    values:\n\
             \x20     - {{ key: [marriott, us-northeast], shard: shard-0 }}\n\
             \x20     - {{ key: [marriott, eu-west], shard: shard-1 }}\n\
             \x20     - {{ key: [hilton, us-northeast], shard: shard-2 }}\n\
             \x20     - {{ key: [hilton, eu-west], shard: shard-3 }}\n\
             \x20 - name: property_directory\n    kind: lookup\n    key: bigint\n    lookup:\n\
             \x20     endpoint: {{ host: {}, port: {}, database: {} }}\n\
             \x20     query: \"SELECT shard FROM property_shards WHERE property_id = $1\"\n\
             tables:\n\
             \x20 - {{ name: reservations, columns: [tenant_id], function: tenant_hash }}\n\
             \x20 - {{ name: guests, columns: [tenant_id], function: tenant_hash }}\n\
             \x20 - {{ name: brand_properties, columns: [brand_id, region_code], function: brand_region }}\n\
             \x20 - {{ name: room_blocks, columns: [property_id], function: property_directory }}\n\
             reference_tables: [currencies]\nunknown_tables: refuse\n",
            pg.host(),
            pg.port(),
            self.directory
        );
        y
    }

    /// The shard PostgreSQL itself computes for a bigint tenant key under [`QUARTERS`].
    pub async fn expected_shard(pg: &PgCluster, tenant: i64) -> anyhow::Result<usize> {
        let c = pg.client("postgres").await?;
        let h: i64 = c.query_one("SELECT hashint8extended($1::bigint, 0)", &[&tenant]).await?.get(0);
        Ok(QUARTERS
            .iter()
            .position(|(from, to)| from.is_none_or(|f| h >= f) && to.is_none_or(|t| h < t))
            .unwrap_or(usize::MAX))
    }

    /// How many rows of `table` match `predicate` on each shard, read directly.
    pub async fn counts(&self, pg: &PgCluster, table: &str, predicate: &str) -> anyhow::Result<Vec<i64>> {
        let mut out = Vec::new();
        for db in &self.databases {
            let c = pg.client(db).await?;
            let n: i64 = c.query_one(&format!("SELECT count(*) FROM {table} WHERE {predicate}"), &[]).await?.get(0);
            out.push(n);
        }
        Ok(out)
    }
}
