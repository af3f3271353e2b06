"""Entry point of ``make bench``: seed Keycloak and the database, run every scenario, print and save results.

    .venv/bin/python -m benchmarks.run [--repeat 7] [--only pull_members,api_list] [--reseed] [--strict]

Keycloak comes from ``KEYCLOAK_URL`` (``make bench`` sets it from ``scripts/keycloak-dev start``) or is
started through ``scripts/keycloak-dev``. The realm ``okg-bench`` is seeded once and reused.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tests.realkeycloak import start_server
from webapp.extensions import db

from .harness import BenchContext, KeycloakCounter, LiveServer, SqlCounter, build_app, gateway_of
from .report import Check, Result, table, write_json
from .scenarios import (
    api_list,
    attribution,
    big_group,
    browser,
    expiry,
    jobs,
    memory,
    plans,
    pull_members,
    remote_tree,
    reviews,
    tokens,
)
from .seed import REPO_ROOT, describe_realm, log, migrate_database, seed_database, seed_realm

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
RESULTS = BENCH_DIR / "results.json"

Scenario = Callable[[BenchContext], list[Result]]
SCENARIOS: dict[str, Scenario] = {
    "pull_members": pull_members.run,
    "remote_tree": remote_tree.run,
    "api_list": api_list.run,
    "browser": browser.run,
    "big_group": big_group.run,
    "tokens": tokens.run,
    "memory": memory.run,
    "plans": plans.run,
    "jobs": jobs.run,
    "attribution": attribution.run,
    "reviews": reviews.run,
    "expiry": expiry.run,
}
# Opt-in (`make bench-scale`, or --only): each takes many minutes here.
SCALE = ("expiry",)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "7")))
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated subset of {', '.join(SCENARIOS)} (default: all but {', '.join(SCALE)})",
    )
    parser.add_argument("--reseed", action="store_true", help="delete and re-seed the okg-bench realm")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def fresh_database() -> Path:
    CACHE_DIR.mkdir(exist_ok=True)
    database = CACHE_DIR / "bench.sqlite"
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    return database


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()] or [
        name for name in SCENARIOS if name not in SCALE
    ]
    unknown = set(selected) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    started = time.perf_counter()

    server, _ = start_server(REPO_ROOT)
    seed_realm(server, reseed=args.reseed)
    database = fresh_database()
    app = build_app(database)
    page_size = int(app.config["KEYCLOAK_PAGE_SIZE"])
    realm = describe_realm(server, page_size)
    migrate_database(app)
    seed = seed_database(app, realm)
    log(f"database seeded: {seed.local_counts['total']} local groups ({time.perf_counter() - started:.0f} s so far)")

    live = LiveServer(app)
    with app.app_context():
        sql = SqlCounter(db.engine)
    keycloak = KeycloakCounter(gateway_of(app, seed.bench_offering_uuid))
    ctx = BenchContext(database, realm, seed, app, live, sql, keycloak, page_size, args.repeat)

    results: list[Result] = []
    try:
        for name in selected:
            log(f"scenario {name} …")
            scenario_started = time.perf_counter()
            try:
                results.extend(SCENARIOS[name](ctx))
            except Exception as exc:  # one broken scenario must not hide the others' numbers
                traceback.print_exc()
                results.append(
                    Result(name, None, None, "—", [Check("ran", f"{type(exc).__name__}: {exc}", "ok", False)])
                )
            log(f"scenario {name} done in {time.perf_counter() - scenario_started:.0f} s")
    finally:
        live.close()
        sql.close()
        with app.app_context():
            db.engine.dispose()

    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeat": args.repeat,
        "keycloak_url": server.url,
        "keycloak_page_size": page_size,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "duration_s": round(time.perf_counter() - started, 1),
    }
    write_json(results, args.output, meta | {"scenarios_run": selected})
    print(table(results))
    shown = args.output.relative_to(REPO_ROOT) if args.output.is_relative_to(REPO_ROOT) else args.output
    print(f"\nResults written to {shown}")
    print(f"Total time {meta['duration_s']} s")
    return 1 if args.strict and not all(result.met for result in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
