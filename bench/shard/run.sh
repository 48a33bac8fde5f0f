#!/usr/bin/env bash
# Shard writer vs a cat-style write with fsync: whole processes, alternating (see run.py).
# Usage: bench/shard/run.sh [--total-mb 1024] [--sample-mb 4] [--dir DIR] [--repeat 3] [--nosync]
set -euo pipefail
exec python3 "$(dirname "$0")/run.py" "$@"
