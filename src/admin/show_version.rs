//! SHOW VERSION: one row, one column, as PgBouncer answers it.

use super::table::{text, Kind, Table};

pub fn run() -> Table {
    let mut t = Table::new(&[("version", Kind::Text)]);
    t.push(vec![text(format!("shardgate {}", env!("CARGO_PKG_VERSION")))]);
    t
}
