"""The verdicts and the printed table of bench/redirects.py."""

ENGINE_LABELS = {"sqlite": "sqlite", "postgresql": "postgresql + redis"}
HEADER = (
    f"{'engine':<30}{'links':>11}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}"
    f"{'errors':>8}{'ratio':>8}{'p99 ratio':>11}  counted vs completed"
)
EXPORT_GOAL_BYTES = 100 * 10**6


def click_check(row):
    """Did the database count exactly the redirects wrk received?

    Exact when redirects.lua saw every redirect request it sent answered;
    otherwise only the bound completed <= counted <= completed + unanswered
    can be checked. The daily counters must add up to the same number, and
    the server must have stopped gracefully."""
    completed = row["warmup"]["tally"]["redirects"] + row["main"]["tally"]["redirects"]
    unanswered = row["warmup"]["unanswered"] + row["main"]["unanswered"]
    counted = row["clicks_counted"]
    exact = unanswered == 0
    within = completed <= counted <= completed + unanswered
    ok = (
        row["graceful"]
        and row["daily_counted"] == counted
        and (counted == completed if exact else within)
    )
    return {
        "completed": completed,
        "counted": counted,
        "daily_counted": row["daily_counted"],
        "unanswered": unanswered,
        "exact": exact,
        "ok": ok,
    }


def _check_text(check, graceful):
    counted, completed = check["counted"], check["completed"]
    if check["exact"]:
        sign = "=" if counted == completed else "≠"
        text = f"{counted:,} {sign} {completed:,}"
    else:
        text = (
            f"{counted:,} in {completed:,}..{completed + check['unanswered']:,} "
            f"({check['unanswered']:,} unanswered: raise --drain)"
        )
    if check["daily_counted"] != counted:
        text += f", daily counters {check['daily_counted']:,}"
    if not graceful:
        text += ", server killed at stop"
    return text + ("" if check["ok"] else "  MISMATCH")


def _errors(run):
    socket = run["socket_errors"]
    return run["tally"]["other"] + sum(socket.values())


def _row(label, links, run, ceiling, check_text):
    p50, p99 = run["latency_s"].get(50, 0.0), run["latency_s"].get(99, 0.0)
    base_p99 = ceiling["latency_s"].get(99, 0.0)
    ratio = run["rps"] / ceiling["rps"] if ceiling["rps"] else 0.0
    p99_ratio = p99 / base_p99 if base_p99 else 0.0
    return (
        f"{label:<30}{links:>11}{run['rps']:>9,.0f}{p50 * 1000:>9.2f}"
        f"{p99 * 1000:>9.2f}{_errors(run):>8,}{ratio:>8.3f}{p99_ratio:>11.2f}  "
        f"{check_text}"
    )


def _workers(settings):
    threads = settings["threads"]
    return (
        f"{settings['workers']} workers × {threads} thread{'s' * (threads > 1)} "
        f"({settings['worker_class']})"
    )


def print_report(report):
    """Print the table and the extra measurements; False on a click mismatch."""
    args, shipped = report["args"], report["shipped"]
    print(
        f"\n=== Redirects, {report['started_at']}, {report['cpus']} CPUs, "
        f"wrk {args['threads']} threads × {args['connections']} connections, "
        f"{args['duration']:g} s measured after {report['warmup_s']} s warm-up ==="
    )
    print(
        f"gunicorn as shipped resolves here to {_workers(shipped)}, max_requests "
        f"{shipped['max_requests']} (+ up to {shipped['max_requests_jitter']}), "
        f"keepalive {shipped['keepalive']} s; sync ceiling: "
        f"{_workers(report['sync'])}"
    )
    ceilings = {c["label"]: c for c in report["ceilings"]}
    base = ceilings["shipped"]["main"]
    print(HEADER)
    for ceiling in report["ceilings"]:
        settings = ceiling["settings"]
        label = (
            f"bare WSGI, {ceiling['label']} "
            f"({settings['workers']}×{settings['threads']})"
        )
        print(_row(label, "-", ceiling["main"], base, "-"))
    ok = True
    for engine in report["engines"]:
        for row in engine["rows"]:
            check = row["check"]
            ok = ok and check["ok"]
            text = _check_text(check, row["graceful"])
            label = ENGINE_LABELS[row["engine"]]
            print(_row(label, f"{row['links']:,}", row["main"], base, text))
    print()
    for engine in report["engines"]:
        _print_extras(engine)
    return ok


def _print_extras(engine):
    name = ENGINE_LABELS[engine["engine"]]
    seeding = "; ".join(
        f"{row['seeding']['inserted']:,} more in {row['seeding']['seconds']:.1f} s "
        f"({row['seeding']['wall_s']:.1f} s with start-up)"
        for row in engine["rows"]
    )
    print(f"{name}: seed_links: {seeding}")
    api = engine["api"]
    if api:
        print(
            f"{name}: GET /api/links at {api['links']:,} links: median "
            f"{api['median_s'] * 1000:,.0f} ms of {len(api['times_s'])} "
            f"(status {api['status']}, count {api['count']})"
        )
    export = engine["export"]
    if export:
        verdict = "meets" if export["peak_rss"] < EXPORT_GOAL_BYTES else "MISSES"
        print(
            f"{name}: export_links of {export['links']:,} links: peak RSS "
            f"{export['peak_rss'] / 1e6:,.0f} MB ({verdict} the < 100 MB goal; "
            f"`manage.py check` alone {export['startup_peak_rss'] / 1e6:,.0f} MB) "
            f"in {export['wall_s']:.1f} s"
        )
