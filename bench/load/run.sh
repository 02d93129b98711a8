#!/usr/bin/env bash
# Issue 17's load benchmark (see bench/load/run.py for what it measures and its options):
#   bench/load/run.sh                                   # seeds `loadbench` on first use
#   bench/load/run.sh --database NAME --runs 3 --duration 15
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/python bench/load/run.py "$@"
