//! SHOW CLIENTS: every logged-in client (admin sessions too), PgBouncer's column names.
//! `id` is the number in the `conn=c<id>` field of the logs and what KILL_CLIENT takes.
//!
//! Left out: request_time and wait (the hot path records no per-request timestamps for the
//! console), ptr/link/remote_pid (PgBouncer internals).

use std::time::{SystemTime, UNIX_EPOCH};

use super::table::{boolean, text, Kind, Table};
use crate::frontend::Shared;

pub fn run(shared: &Shared) -> Table {
    let mut t = Table::new(&[
        ("type", Kind::Text),
        ("user", Kind::Text),
        ("database", Kind::Text),
        ("state", Kind::Text),
        ("addr", Kind::Text),
        ("port", Kind::Int),
        ("local_addr", Kind::Text),
        ("local_port", Kind::Int),
        ("connect_time", Kind::Text),
        ("tls", Kind::Bool),
        ("application_name", Kind::Text),
        ("id", Kind::Int),
    ]);
    for c in shared.registry.list() {
        let i = &c.info;
        t.push(vec![
            text("C"),
            text(&i.user),
            text(&i.database),
            text(c.state().as_str()),
            i.addr.map(|a| a.ip().to_string()),
            i.addr.map(|a| a.port().to_string()),
            i.local.map(|a| a.ip().to_string()),
            i.local.map(|a| a.port().to_string()),
            text(utc(c.connected_at)),
            boolean(i.tls),
            text(&i.application_name),
            text(i.id),
        ]);
    }
    t
}

/// `YYYY-MM-DD HH:MM:SS UTC`, as PgBouncer prints times. Days to a civil date by Howard
/// Hinnant's algorithm (<https://howardhinnant.github.io/date_algorithms.html#civil_from_days>),
/// to avoid a date crate for one column.
pub fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56
        assert_eq!(utc(t), "2024-02-29 12:34:56 UTC");
    }
}
