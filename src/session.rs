//! Session settings a client asked for (SET, RESET, startup parameters and `options`), kept by
//! the proxy so that under transaction pooling every server the client is given is brought to
//! the same settings first — and no setting leaks from one client to the next.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Setting name (lower case) → value as SQL text, exactly as the client wrote it after `TO`/`=`
/// (so it can be replayed verbatim: `SET <name> TO <value>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    values: BTreeMap<String, String>,
}

impl Settings {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn set(&mut self, name: &str, sql_value: &str) {
        self.values.insert(name.to_ascii_lowercase(), sql_value.to_string());
    }

    /// A startup parameter: its value is a plain string, so it is quoted as a literal.
    pub fn set_literal(&mut self, name: &str, value: &str) {
        self.set(name, &quote_literal(value));
    }

    pub fn reset(&mut self, name: &str) {
        self.values.remove(&name.to_ascii_lowercase());
    }

    pub fn clear(&mut self) {
        self.values.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The settings whose names start with `prefix` (a range of the ordered map, not a scan
    /// of every setting: the router asks for `shardgate.*` on every statement).
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.values
            .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The statements that bring a server at `self` to `target`, or `None` when equal.
    pub fn diff_sql(&self, target: &Settings) -> Option<String> {
        if self == target {
            return None;
        }
        let mut sql = String::new();
        for (name, value) in &target.values {
            if self.values.get(name) != Some(value) {
                let _ = write!(sql, "SET {name} TO {value};");
            }
        }
        for name in self.values.keys() {
            if !target.values.contains_key(name) {
                let _ = write!(sql, "RESET {name};");
            }
        }
        Some(sql)
    }
}

/// Quotes a string as a SQL literal (standard_conforming_strings on: only `'` is doubled).
pub fn quote_literal(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('\'');
    for ch in v.chars() {
        if ch == '\'' {
            s.push('\'');
        }
        s.push(ch);
    }
    s.push('\'');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_prefix_reads_only_that_range() {
        let mut s = Settings::default();
        for (k, v) in [
            ("application_name", "'a'"),
            ("shardgate.tenant_id", "7"),
            ("shardgate.shard", "'s1'"),
            ("shardgatex", "1"),
            ("work_mem", "'4MB'"),
        ] {
            s.set(k, v);
        }
        let got: Vec<_> = s.with_prefix("shardgate.").collect();
        assert_eq!(got, [("shardgate.shard", "'s1'"), ("shardgate.tenant_id", "7")]);
        assert_eq!(Settings::default().with_prefix("shardgate.").count(), 0);
    }

    #[test]
    fn diff_sets_changed_and_resets_missing() {
        let mut server = Settings::default();
        server.set("search_path", "a");
        server.set("work_mem", "'4MB'");
        let mut client = Settings::default();
        client.set("search_path", "b");
        client.set_literal("application_name", "o'k");
        let sql = server.diff_sql(&client).unwrap();
        assert_eq!(sql, "SET application_name TO 'o''k';SET search_path TO b;RESET work_mem;");
        assert!(client.diff_sql(&client.clone()).is_none());
    }
}
