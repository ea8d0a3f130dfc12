//! A result set the console builds in memory and writes as RowDescription, DataRows and
//! CommandComplete. Admin answers are small (one row per pool, client or setting), so
//! building them whole is simpler than streaming and costs nothing that matters.

use bytes::BytesMut;

use crate::protocol::build;
use crate::protocol::messages::{data_row, row_description};

/// The PostgreSQL type a column is described as, so psql aligns numbers and clients that
/// read typed values get the right ones. OIDs from `pg_type.dat`:
/// <https://github.com/postgres/postgres/blob/master/src/include/catalog/pg_type.dat>
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Bool,
    Float,
}

impl Kind {
    fn oid_len(self) -> (u32, i16) {
        match self {
            Self::Text => (25, -1),
            Self::Int => (20, 8),
            Self::Bool => (16, 1),
            Self::Float => (701, 8),
        }
    }
}

/// One cell in text format; `None` is SQL NULL (a value that does not apply, never a fake 0).
pub type Cell = Option<String>;

pub fn text(v: impl ToString) -> Cell {
    Some(v.to_string())
}

pub fn boolean(v: bool) -> Cell {
    Some(if v { "t" } else { "f" }.to_string())
}

pub struct Table {
    columns: Vec<(&'static str, Kind)>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(columns: &[(&'static str, Kind)]) -> Self {
        Self { columns: columns.to_vec(), rows: Vec::new() }
    }

    /// Adds a row; a row of the wrong width is cut or padded with NULLs rather than sent
    /// malformed (a bug here must not break the client's protocol state).
    pub fn push(&mut self, mut row: Vec<Cell>) {
        row.resize(self.columns.len(), None);
        self.rows.push(row);
    }

    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|(n, _)| *n).collect()
    }

    /// RowDescription, the rows, and CommandComplete with `tag`.
    pub fn write(&self, out: &mut BytesMut, tag: &str) {
        let cols: Vec<row_description::Column> = self
            .columns
            .iter()
            .map(|(name, kind)| {
                let (type_oid, type_len) = kind.oid_len();
                row_description::Column {
                    name: name.as_bytes().to_vec(),
                    table_oid: 0,
                    attnum: 0,
                    type_oid,
                    type_len,
                    type_mod: -1,
                    format: 0,
                }
            })
            .collect();
        row_description::write(out, &cols);
        for row in &self.rows {
            data_row::write(out, row.iter().map(|c| c.as_deref().map(str::as_bytes)));
        }
        build::command_complete(out, tag);
    }
}
