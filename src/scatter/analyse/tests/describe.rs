//! The `shardgate route` one-liner.

use super::*;

#[test]
fn describe_says_what_the_proxy_does_and_what_the_shards_run() {
    let p = ok("SELECT id, amount FROM reservations ORDER BY 2 DESC LIMIT 20");
    assert_eq!(
        p.describe(),
        "merge: order by #2 desc nulls first; limit 20; shards run: SELECT id, amount FROM reservations ORDER BY 2 DESC LIMIT 20"
    );
}

#[test]
fn describe_a_grouping_plan() {
    let p = ok("SELECT tenant_id, avg(nights) FROM reservations GROUP BY tenant_id HAVING count(*) > $1");
    assert_eq!(
        p.describe(),
        "merge: group by #1; avg (÷ hidden#1) #2, count hidden#2; having hidden#2 > $1; drop 3 hidden columns; \
         shards run: SELECT tenant_id, sum(nights) AS avg, count(nights) AS \"_sg_c0\", count(*) AS \"_sg_a1\", \
         (count(*) > $1) AS \"_sg_p2\" FROM reservations GROUP BY tenant_id"
    );
}

#[test]
fn describe_a_plain_stream() {
    assert_eq!(ok("SELECT id FROM guests").describe(), "merge: concatenate; shards run: SELECT id FROM guests");
}
