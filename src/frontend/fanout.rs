//! Statements that run on several shards and answer the client once: DDL and reference-table
//! writes on every shard, and multi-row INSERTs split by shard.
//!
//! Each shard's share runs inside its own transaction, and the shares are committed only when
//! every one succeeded, so a failure anywhere leaves every shard as it was. What this cannot
//! promise is the commit itself: a shard that fails between the others' COMMITs leaves them
//! applied. Two-phase commit closes that gap later; until then such a failure is reported with
//! the shards that did commit.

use bytes::BytesMut;

use super::client::Client;
use super::error::FrontendError;
use crate::error::ClientError;
use crate::pool::Checkout;
use crate::protocol::messages::error_response::ErrorFields;
use crate::protocol::messages::ready_for_query::TxStatus;
use crate::protocol::messages::{btag, command_complete};
use crate::protocol::{build, split_frame};
use crate::router::lexer::Words;
use crate::router::SplitPart;
use crate::shardmap::ShardIdx;

const MAX_SERVER_MESSAGE: u32 = 1 << 30;

/// One shard's answer to its share.
struct ShardReply {
    shard: ShardIdx,
    frames: BytesMut,
    error: Option<ErrorFields>,
}

impl Client {
    /// Runs `sql` (DDL, a reference-table write, a broadcast UPDATE/DELETE) on every shard.
    /// `ready`: a simple query, answered with ReadyForQuery too.
    pub(super) async fn broadcast(&mut self, sql: &str, ready: bool) -> Result<(), FrontendError> {
        let parts: Vec<(ShardIdx, String)> = self.routing.db.map.indices().map(|s| (s, sql.to_string())).collect();
        let replies = self.fan_out(&parts, runs_in_transaction(sql)).await?;
        let mut out = BytesMut::new();
        if let Some(first) = replies.first() {
            // Every shard answered the same statement alike; show one answer, not N.
            out.extend_from_slice(&first.frames);
        }
        if ready {
            build::ready_for_query(&mut out, TxStatus::Idle);
        }
        self.synthetic(out.freeze());
        Ok(())
    }

    /// Runs each shard's part of a split multi-row INSERT and answers as one INSERT would:
    /// one RowDescription (RETURNING), every shard's rows, one CommandComplete with the total.
    pub(super) async fn split_insert(&mut self, parts: &[SplitPart]) -> Result<(), FrontendError> {
        let work: Vec<(ShardIdx, String)> = parts.iter().map(|p| (p.shard, p.sql.clone())).collect();
        let replies = self.fan_out(&work, true).await?;
        let mut head = BytesMut::new();
        let mut rows = BytesMut::new();
        let mut total: u64 = 0;
        for mut reply in replies {
            let mut seen_description = !head.is_empty();
            while let Ok(Some(frame)) = split_frame(&mut reply.frames, MAX_SERVER_MESSAGE) {
                match frame.tag {
                    btag::ROW_DESCRIPTION if !seen_description => {
                        head.extend_from_slice(&frame.bytes);
                        seen_description = true;
                    }
                    btag::DATA_ROW => rows.extend_from_slice(&frame.bytes),
                    btag::COMMAND_COMPLETE => total += inserted(command_complete::tag(&frame.body())),
                    _ => {}
                }
            }
        }
        let mut out = head;
        out.extend_from_slice(&rows);
        build::command_complete(&mut out, &format!("INSERT 0 {total}"));
        build::ready_for_query(&mut out, TxStatus::Idle);
        self.synthetic(out.freeze());
        Ok(())
    }

    /// Runs each (shard, sql) on its own server, in a transaction per shard when `wrap`,
    /// committing all or rolling all back. `Err` carries the failure for the client.
    async fn fan_out(&mut self, parts: &[(ShardIdx, String)], wrap: bool) -> Result<Vec<ShardReply>, FrontendError> {
        // The client is between transactions (the caller checked): its own server can go.
        self.release();
        let mut servers: Vec<(ShardIdx, Checkout)> = Vec::with_capacity(parts.len());
        let mut replies = Vec::with_capacity(parts.len());
        let mut failure: Option<(ShardIdx, ErrorFields)> = None;
        for (shard, sql) in parts {
            let name = self.routing.shard_name(*shard);
            let pool = match self.pool_for(*shard, &super::replicas::Need::Primary) {
                Ok(p) => p,
                Err(e) => {
                    failure =
                        Some((*shard, fields(e.sqlstate().code(), &format!("shard {name}: {}", e.client_message()))));
                    break;
                }
            };
            let mut server = match super::timing::checkout(
                &pool,
                &self.shared.metrics,
                "primary",
                tokio::time::Instant::now(),
            )
            .await
            {
                Ok(s) => s,
                Err(e) => {
                    failure = Some((*shard, fields("08006", &format!("shard {name}: {e}"))));
                    break;
                }
            };
            let settings = self.settings.clone();
            if let Some(diff) = server.settings.diff_sql(&settings) {
                if let Err(e) = server.run_internal(&diff).await {
                    failure = Some((*shard, fields("08006", &format!("shard {name}: {e}"))));
                    break;
                }
            }
            server.settings = settings;
            if wrap {
                if let Err(e) = server.run_internal("BEGIN").await {
                    failure = Some((*shard, fields("08006", &format!("shard {name}: {e}"))));
                    break;
                }
            }
            let mut frames = BytesMut::new();
            let result = server.run_collect(sql, Some(&mut frames)).await;
            servers.push((*shard, server));
            match result {
                Ok((_, None)) => replies.push(ShardReply { shard: *shard, frames, error: None }),
                Ok((_, Some(e))) => {
                    failure = Some((*shard, e.clone()));
                    replies.push(ShardReply { shard: *shard, frames, error: Some(e) });
                    break;
                }
                Err(e) => {
                    failure = Some((*shard, fields("08006", &format!("shard {name}: {e}"))));
                    break;
                }
            }
        }
        let ok = failure.is_none();
        let mut committed = Vec::new();
        let mut commit_failed = Vec::new();
        if wrap {
            for (shard, server) in &mut servers {
                let end = if ok { "COMMIT" } else { "ROLLBACK" };
                match server.run_internal(end).await {
                    Ok(_) if ok => committed.push(*shard),
                    Ok(_) => {}
                    Err(e) => {
                        server.clean = false;
                        commit_failed.push((*shard, e.to_string()));
                    }
                }
            }
        }
        drop(servers);
        if let Some((shard, e)) = failure {
            let name = self.routing.shard_name(shard);
            let mut message = format!("shard {name}: {}", e.message);
            if wrap {
                message.push_str(" (nothing was applied on any shard)");
            } else {
                let applied: Vec<String> =
                    replies.iter().filter(|r| r.error.is_none()).map(|r| self.routing.shard_name(r.shard)).collect();
                if !applied.is_empty() {
                    message.push_str(&format!(" (already applied on {})", applied.join(", ")));
                }
            }
            let code = if e.code.is_empty() { "XX000".to_string() } else { e.code.clone() };
            return Err(FrontendError::Fanout { code, message, hint: e.hint.clone() });
        }
        if !commit_failed.is_empty() {
            let failed: Vec<String> =
                commit_failed.iter().map(|(s, e)| format!("{}: {e}", self.routing.shard_name(*s))).collect();
            let done: Vec<String> = committed.iter().map(|s| self.routing.shard_name(*s)).collect();
            return Err(FrontendError::Fanout {
                code: "40003".into(),
                message: format!(
                    "COMMIT failed on {}; committed on {}",
                    failed.join(", "),
                    if done.is_empty() { "none".to_string() } else { done.join(", ") }
                ),
                hint: Some("the shards now differ: check the failed shards and repeat the statement there".into()),
            });
        }
        Ok(replies)
    }
}

fn fields(code: &str, message: &str) -> ErrorFields {
    ErrorFields { severity: "ERROR".into(), code: code.into(), message: message.into(), detail: None, hint: None }
}

/// Rows counted by an `INSERT oid rows` tag.
fn inserted(tag: &[u8]) -> u64 {
    std::str::from_utf8(tag).ok().and_then(|t| t.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Statements PostgreSQL refuses inside a transaction block run unwrapped, shard by shard.
fn runs_in_transaction(sql: &str) -> bool {
    let words: Vec<String> = Words::new(sql).take(4).map(|w| w.to_ascii_lowercase()).collect();
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    !matches!(
        w.as_slice(),
        ["vacuum", ..]
            | ["cluster", ..]
            | ["create", "database", ..]
            | ["drop", "database", ..]
            | ["create", "tablespace", ..]
            | ["drop", "tablespace", ..]
            | ["alter", "system", ..]
            | ["create", "index", "concurrently", ..]
            | ["create", "unique", "index", "concurrently"]
            | ["drop", "index", "concurrently", ..]
            | ["reindex", ..]
    )
}
