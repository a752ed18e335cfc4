"""A DELETE on bronze by another engine (Python `deltalake`, as a GDPR erasure would be run),
then the documented behaviour of silver checked: it stops with exit 1 naming the bronze version
and the operation, appends nothing, and goes past the version once it is listed in
silver.skip_bronze_versions. Shares no code with medallion.

    python delete_bronze.py --lake LAKE_ROOT --medallion PATH_TO_BINARY
"""

import argparse
import json
import os
import subprocess
import sys

import polars as pl
from deltalake import DeltaTable


def checked_rows(lake):
    return sum(pl.read_delta(f"{lake}/silver/{t}").height for t in ["purchase_order_items", "purchase_order_items_quarantine"])


def silver(binary, lake, env=None):
    return subprocess.run([binary, "silver", "--until-caught-up", "--lake", lake, "--log", "warn"], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=240)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", required=True)
    parser.add_argument("--medallion", required=True)
    args = parser.parse_args()
    bronze = DeltaTable(f"{args.lake}/bronze/purchase_order_items")
    before = checked_rows(args.lake)
    metrics = bronze.delete("kafka_partition = 0")
    version = bronze.version()
    problems = []
    first = silver(args.medallion, args.lake)
    if first.returncode != 1:
        problems.append(f"silver after the DELETE exited {first.returncode}, expected 1: {first.stderr[-500:]}")
    for expected in [f"version {version} of the Delta table", "(DELETE)", "silver.skip_bronze_versions"]:
        if expected not in first.stderr:
            problems.append(f"{expected!r} missing from silver's error: {first.stderr[-500:]}")
    if checked_rows(args.lake) != before:
        problems.append(f"silver appended after the DELETE: {checked_rows(args.lake)} rows, was {before}")
    skipped = silver(args.medallion, args.lake, {"MEDALLION_SILVER__SKIP_BRONZE_VERSIONS": f"[{version}]"})
    if skipped.returncode != 0 or checked_rows(args.lake) != before:
        problems.append(f"silver skipping version {version}: exit {skipped.returncode}, {checked_rows(args.lake)} rows (was {before}): {skipped.stderr[-500:]}")
    print(json.dumps({"deleted": metrics.get("num_deleted_rows"), "bronze_version": version, "checked_rows": before, "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
