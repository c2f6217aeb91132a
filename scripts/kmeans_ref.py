#!/usr/bin/python3
"""Reference K-Means fit for sharkfin's detect/kmeans benchmark.

Reads a CSV of numbers (no header, one row per line), fits scikit-learn's
KMeans(n_clusters=K, init="k-means++", n_init=10, random_state=0) and prints
one JSON object: {"inertia": ..., "seconds": ..., "n_iter": ..., "rows": ...,
"cols": ...}. "seconds" times the fit only, not the CSV load.

Needs Debian's python3-sklearn (apt-get install -y python3-sklearn); run it
with /usr/bin/python3, which is the interpreter that package installs into.

Usage: /usr/bin/python3 scripts/kmeans_ref.py DATA.csv K [--n-init N] [--seed S]
"""

import argparse
import json
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", help="data file: comma-separated numbers, no header")
    parser.add_argument("k", type=int, help="number of clusters")
    parser.add_argument("--n-init", type=int, default=10, help="k-means++ restarts (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    args = parser.parse_args()

    try:
        import numpy as np
        from sklearn.cluster import KMeans
    except ImportError as err:
        sys.exit(f"kmeans_ref: {err}: install python3-sklearn and run with /usr/bin/python3")

    try:
        data = np.loadtxt(args.csv, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as err:
        sys.exit(f"kmeans_ref: read {args.csv}: {err}")
    if data.shape[0] == 0:
        sys.exit(f"kmeans_ref: {args.csv}: no rows")
    if args.k < 1 or args.k > data.shape[0]:
        sys.exit(f"kmeans_ref: k={args.k} is outside 1..{data.shape[0]} (the row count)")

    km = KMeans(n_clusters=args.k, init="k-means++", n_init=args.n_init, random_state=args.seed)
    start = time.perf_counter()
    km.fit(data)
    seconds = time.perf_counter() - start

    json.dump(
        {
            "inertia": float(km.inertia_),
            "seconds": seconds,
            "n_iter": int(km.n_iter_),
            "rows": int(data.shape[0]),
            "cols": int(data.shape[1]),
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
