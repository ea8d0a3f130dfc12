//! Routing hints written in the SQL: `/* shardgate: shard=shard-2 */` or
//! `/* shardgate: tenant_id=42 */` (several `k=v` separated by spaces or commas; `--`
//! comments work too). Read by a cheap scan before and independently of parsing, so a hint
//! never costs a parse and the plan cache stays keyed by the statement alone.

/// Hints found in comments. Keys are lower-cased column names; values are text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommentHints {
    pub shard: Option<String>,
    pub keys: Vec<(String, String)>,
    /// `role=primary|replica|any`: where a read goes on a shard with replicas.
    pub role: Option<String>,
    /// `tag=analytics`: which tagged replicas a read may use.
    pub tag: Option<String>,
}

impl CommentHints {
    pub fn is_empty(&self) -> bool {
        self.shard.is_none() && self.keys.is_empty() && self.role.is_none() && self.tag.is_none()
    }
}

/// What every hint comment starts with: text without it has no hints.
pub const MARK: &str = "shardgate:";

/// Reads every `shardgate:` comment of `sql`. Costs one byte search (for `/` or `-`) when the
/// text has no comment, and a substring search when it has one without a hint.
pub fn scan(sql: &str) -> CommentHints {
    let mut hints = CommentHints::default();
    // A hint lives in a comment: text with neither `/` nor `-` (most statements) has none,
    // and one vectorised byte search says so for less than the substring search costs.
    if memchr::memchr2(b'/', b'-', sql.as_bytes()).is_none() || !sql.contains(MARK) {
        return hints;
    }
    let mut from = 0usize;
    while let Some(pos) = sql.get(from..).and_then(|r| r.find(MARK)).map(|p| from + p) {
        let before = sql.get(..pos).unwrap_or_default().trim_end();
        let body_start = pos + MARK.len();
        let rest = sql.get(body_start..).unwrap_or_default();
        let body = if before.ends_with("/*") {
            rest.find("*/").and_then(|e| rest.get(..e))
        } else if before.ends_with("--") {
            Some(rest.find('\n').and_then(|e| rest.get(..e)).unwrap_or(rest))
        } else {
            None
        };
        if let Some(body) = body {
            read_pairs(body, &mut hints);
        }
        from = body_start;
    }
    hints
}

fn read_pairs(body: &str, hints: &mut CommentHints) {
    for pair in body.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else { continue };
        let k = k.trim().to_ascii_lowercase();
        let v = unquote(v.trim());
        if k == "shard" {
            hints.shard = Some(v.to_string());
        } else if k == "role" {
            hints.role = Some(v.to_ascii_lowercase());
        } else if k == "tag" {
            hints.tag = Some(v.to_ascii_lowercase());
        } else if !k.is_empty() {
            hints.keys.push((k, v.to_string()));
        }
    }
}

fn unquote(v: &str) -> &str {
    for q in ['\'', '"'] {
        if let Some(inner) = v.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_and_key_hints_are_read_from_comments() {
        let h = scan("/* shardgate: shard=shard-2 */ select 1");
        assert_eq!(h.shard.as_deref(), Some("shard-2"));
        let h = scan("select * from properties /*shardgate: brand_id='marriott', region_code=us-east */");
        assert_eq!(h.keys, vec![("brand_id".into(), "marriott".into()), ("region_code".into(), "us-east".into())]);
        let h = scan("select 1 -- shardgate: Tenant_ID=42\n");
        assert_eq!(h.keys, vec![("tenant_id".into(), "42".into())]);
    }

    #[test]
    fn text_outside_comments_is_not_a_hint() {
        assert!(scan("select 'shardgate: shard=x'").is_empty());
        assert!(scan("select 1").is_empty());
    }
}
