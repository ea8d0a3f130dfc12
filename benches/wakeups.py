#!/usr/bin/env python3
"""Who wakes whom, on which CPU, and how long the woken wait: a summary of the scheduler's
wakeups and switches while pgbench runs through a pooler.

    perf record -a -e sched:sched_wakeup,sched:sched_switch -o w.data -- sleep 2
    perf script -i w.data | benches/wakeups.py --tps 20000 --seconds 2

Why: at 16 clients on 2 cores, TPS through shardgate and through PgBouncer differ by a few
per cent while the proxies' own CPU and system calls are level (docs/performance.md). What
is left is how the kernel schedules the chain pgbench → pooler → backend → pooler → pgbench.
This reads the sched tracepoints and prints, per (waker → wakee) class: wakeups per
transaction and the share that lands on the waker's own CPU; per wakee class: the wakeup
latency (from sched_wakeup to being switched in); and per class: switches out while still
runnable (preemptions) per transaction. Processes are classed by name: postgres, pgbench,
pooler (shardgate or pgbouncer), other.
"""

import argparse
import collections
import re
import statistics
import sys

WAKEUP = re.compile(
    r"^\s*(\S.*?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:sched_wakeup:\s+"
    r"comm=(\S+) pid=(\d+) prio=\d+ target_cpu=(\d+)")
SWITCH = re.compile(
    r"^\s*(\S.*?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:sched_switch:\s+"
    r"prev_comm=(\S+) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(\S+) next_pid=(\d+)")


def kind(comm):
    for prefix, name in (("postgres", "postgres"), ("pgbench", "pgbench"),
                         ("shardgate", "pooler"), ("pgbouncer", "pooler")):
        if comm.startswith(prefix):
            return name
    return "other"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tps", type=float, required=True, help="pgbench's TPS during the trace")
    ap.add_argument("--seconds", type=float, required=True, help="length of the trace")
    args = ap.parse_args()
    txns = args.tps * args.seconds

    woken_at = {}
    latency = collections.defaultdict(list)
    wakeups, same_cpu = collections.Counter(), collections.Counter()
    preempted = collections.Counter()
    for line in sys.stdin:
        m = WAKEUP.match(line)
        if m:
            waker, _, waker_cpu, t, comm, pid, target_cpu = m.groups()
            pair = (kind(waker), kind(comm))
            wakeups[pair] += 1
            same_cpu[pair] += int(waker_cpu) == int(target_cpu)
            woken_at[pid] = (float(t), kind(comm))
            continue
        m = SWITCH.match(line)
        if m:
            _, _, _, t, prev_comm, _, prev_state, _, next_pid = m.groups()
            if prev_state.startswith("R"):
                preempted[kind(prev_comm)] += 1
            if next_pid in woken_at:
                t0, k = woken_at.pop(next_pid)
                latency[k].append((float(t) - t0) * 1e6)

    print("waker -> wakee        per txn  on the waker's CPU")
    for pair in sorted(wakeups):
        if pair[0] == "other" or pair[1] == "other" or wakeups[pair] < txns / 100:
            continue
        print(f"{pair[0]:>8} -> {pair[1]:<8} {wakeups[pair] / txns:8.2f}  {same_cpu[pair] / wakeups[pair]:5.2f}")
    print("wakee     wakeup latency µs: median   p90   mean")
    for k in ("pooler", "postgres", "pgbench"):
        v = sorted(latency.get(k, []))
        if v:
            print(f"{k:<9} {statistics.median(v):27.0f} {v[int(len(v) * 0.9)]:5.0f} {statistics.mean(v):6.0f}")
    print("preempted per txn: " + "  ".join(f"{k} {preempted[k] / txns:.2f}" for k in ("pooler", "postgres", "pgbench")))


if __name__ == "__main__":
    main()
