//! A column of any type as the raw bytes of its binary format, for tests that compare what
//! shardgate returns with what PostgreSQL returns byte for byte.

use tokio_postgres::types::{FromSql, Type};

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
pub struct Raw(pub Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}
