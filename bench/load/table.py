"""Print the results table of bench/load/run.sh from wrk's RESULT lines (markdown)."""

import json
import sys
from pathlib import Path

LABELS = {
    "user_awards": "GET /api/v1/users/{username}/achievements/",
    "catalog": "GET /api/v1/achievements/",
    "stats": "GET /api/v1/stats/",
    "award_writes": "POST /api/v1/users/{username}/achievements/",
}


def main(log_dir: str, *names: str) -> None:
    print("| scenario | requests/s | p50 | p99 | requests | non-2xx | statuses |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name in names:
        line = next(
            line
            for line in (Path(log_dir) / f"{name}.out").read_text().splitlines()
            if line.startswith("RESULT ")
        )
        r = json.loads(line.removeprefix("RESULT "))
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(r["statuses"].items()))
        failed = r["non_2xx"] + r["socket_errors"]
        print(
            f"| `{LABELS[name]}` | {r['rps']:.0f} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms "
            f"| {r['requests']} | {failed} | {statuses} |"
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
