#!/usr/bin/env python3
"""Paired pgbench rounds (`-S` or `--script`) on a held environment, with every process's CPU
per transaction.

    HOLD=1 OUT=/tmp/hold.md benches/pgbench.sh &        # writes /tmp/hold.env, then waits
    benches/paired.py /tmp/hold.env --rounds 8 --seconds 6 --clients 16 --mode simple

Why: on a shared 2-core machine one round's TPS moves by ±10 %, and `pgbench.sh` restarts
nothing between its targets but interleaves three of them with warm-ups. Here the targets
alternate back to back on one running environment, and around every pgbench run the script
reads the user and system time and context switches (/proc/<pid>/stat, status) of the pooler
and of every process named postgres (backends and background processes alike),
pgbench's own (rusage of the child) and the machine's idle time (/proc/stat). So a gap in
TPS can be split into the pooler's CPU, PostgreSQL's backends, pgbench and idle time, per
transaction. At the end: per pair of targets, the per-round TPS ratios, their geometric mean
and a bootstrap 90 % interval of it.

Targets: `sg` (shardgate) and `pb` (PgBouncer) from the env file; `--extra name=port:pid`
adds another pooler started by hand (e.g. a second shardgate build on the same database), and
`--extra name=port:pid/database@user` another database or user behind one (`bench4`, the four-shard
database of a `WORKLOAD=tenant` environment, with `--script $WORK/tenant.sql`).
Linux only; needs pgbench on PATH. Not run in CI.
"""
import argparse
import math
import os
import random
import re
import resource
import statistics
import subprocess
import sys

TICK = os.sysconf("SC_CLK_TCK")


def processes():
    """pid -> (comm, utime, stime, voluntary switches, involuntary switches)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            comm = open(f"/proc/{pid}/comm").read().strip()
            stat = open(f"/proc/{pid}/stat").read()
            fields = stat[stat.rindex(")") + 2:].split()
            status = open(f"/proc/{pid}/status").read()
            vol = int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1))
            invol = int(re.search(r"^nonvoluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1))
            out[int(pid)] = (comm, int(fields[11]), int(fields[12]), vol, invol)
        except (OSError, AttributeError, ValueError, IndexError):
            continue  # the process ended while it was read
    return out


def idle_ticks():
    cpu = open("/proc/stat").readline().split()
    return int(cpu[4]) + int(cpu[5])


def delta(before, after, pids):
    """Summed (utime, stime, voluntary, involuntary) over processes alive at both reads."""
    total = [0, 0, 0, 0]
    for pid in pids:
        if pid in before and pid in after:
            for i in range(4):
                total[i] += after[pid][i + 1] - before[pid][i + 1]
    return total


def one_run(args, port, database, user):
    workload = ["-f", args.script] if args.script else ["-S"]
    cmd = ["pgbench", "-n", *workload, "-M", args.mode, "-c", str(args.clients), "-j", str(min(2, args.clients)),
           "-T", str(args.seconds), "-h", "127.0.0.1", "-p", str(port), "-U", user, database]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def main():
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("env", help="the .env file pgbench.sh HOLD=1 wrote")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--mode", default="simple", choices=["simple", "extended", "prepared"])
    ap.add_argument("--targets", default="sg,pb", help="comma-separated, in the order run")
    ap.add_argument("--rotate", action="store_true",
                    help="start each round one target later, so no target always runs first")
    ap.add_argument("--extra", action="append", default=[],
                    help="name=port:pid[/database[@user]] of another pooler, or another database or user "
                         "behind one")
    ap.add_argument("--script", help="a pgbench script (-f) instead of -S, e.g. $WORK/tenant.sql")
    ap.add_argument("--groups", help="comma-separated target-name prefixes, e.g. one,four: also print "
                    "each group's best target (highest median TPS) and the ratio of every later "
                    "group's best to the first group's")
    ap.add_argument("--user", default="bench")
    ap.add_argument("--database", default="bench")
    args = ap.parse_args()

    env = dict(kv.split("=", 1) for kv in open(args.env).read().split())
    poolers = {"sg": (env["SG_PORT"], int(env["SG_PID"]), args.database, args.user),
               "pb": (env["PB_PORT"], int(env.get("PB_PID") or -1), args.database, args.user)}
    for extra in args.extra:
        name, rest = extra.split("=", 1)
        port, rest = rest.split(":")
        pid, _, rest = rest.partition("/")
        database, _, user = rest.partition("@")
        poolers[name] = (port, int(pid), database or args.database, user or args.user)
    targets = args.targets.split(",")
    os.environ.setdefault("PGPASSWORD", "bench")
    os.environ.setdefault("PGSSLMODE", "disable")
    os.environ.setdefault("PGGSSENCMODE", "disable")

    warm = argparse.Namespace(**{**vars(args), "seconds": 2})
    for t in targets:  # warm every target's pool and caches once, unmeasured
        port, _, database, user = poolers[t]
        one_run(warm, port, database, user)

    tps = {t: [] for t in targets}
    print(f"# {args.mode}, {args.clients} clients, {args.seconds} s per run; µs per transaction")
    for r in range(args.rounds):
        shift = r % len(targets) if args.rotate else 0
        for t in targets[shift:] + targets[:shift]:
            port, pooler_pid, database, user = poolers[t]
            idle0, before, usage0 = idle_ticks(), processes(), resource.getrusage(resource.RUSAGE_CHILDREN)
            run = one_run(args, port, database, user)
            after, idle1, usage1 = processes(), idle_ticks(), resource.getrusage(resource.RUSAGE_CHILDREN)
            m = re.search(r"tps = ([\d.]+)", run.stdout)
            if not m:
                sys.exit(f"pgbench through {t} failed:\n{run.stderr}")
            rate = float(m.group(1))
            n = rate * args.seconds
            us = lambda ticks: ticks * 1e6 / TICK / n  # noqa: E731
            backends = [p for p in after if after[p][0] == "postgres"]
            pu, ps, pv, _ = delta(before, after, backends)
            qu, qs, qv, qi = delta(before, after, [pooler_pid])
            bu = (usage1.ru_utime - usage0.ru_utime) * 1e6 / n
            bs = (usage1.ru_stime - usage0.ru_stime) * 1e6 / n
            tps[t].append(rate)
            print(f"r{r} {t:4} tps {rate:8.0f} | pooler user {us(qu):5.1f} sys {us(qs):5.1f} "
                  f"switches {qv / n:.2f}+{qi / n:.2f} | postgres user {us(pu):5.1f} sys {us(ps):5.1f} "
                  f"switches {pv / n:.2f} | pgbench user {bu:4.1f} sys {bs:4.1f} | idle {us(idle1 - idle0):5.1f}",
                  flush=True)

    random.seed(1)
    for i, a in enumerate(targets):
        for b in targets[i + 1:]:
            logs = [math.log(x / y) for x, y in zip(tps[a], tps[b])]
            boots = sorted(statistics.mean(random.choices(logs, k=len(logs))) for _ in range(5000))
            lo, hi = math.exp(boots[int(0.05 * len(boots))]), math.exp(boots[int(0.95 * len(boots)) - 1])
            rounds = " ".join(f"{math.exp(x):.2f}" for x in logs)
            print(f"{a}/{b}: geometric mean {math.exp(statistics.mean(logs)):.3f}, 90 % [{lo:.3f}, {hi:.3f}]; "
                  f"rounds {rounds}")

    if args.groups:
        medians = {t: statistics.median(v) for t, v in tps.items()}
        print("median TPS: " + " ".join(f"{t} {m:.0f}" for t, m in medians.items()))
        best = []
        for prefix in args.groups.split(","):
            group = [t for t in targets if t.startswith(prefix)]
            if group:
                best.append(max(group, key=medians.get))
        for b in best[1:]:
            print(f"best {b} / best {best[0]}: {medians[b] / medians[best[0]]:.3f} "
                  f"({medians[b]:.0f} / {medians[best[0]]:.0f} TPS)")


if __name__ == "__main__":
    main()
