"""Applies a DQX rules file to a Parquet file with Databricks Labs DQX on local Spark, no workspace.

    run_dqx.py --checks CHECKS.yml --input IN.parquet --output OUT [--key COLUMN] [--directory]

Writes the input columns plus DQX's `_errors` and `_warnings` (one Parquet file, or with
--directory a directory of Spark's parts; with --key only that column and the results, for
expected data to commit) and prints, as JSON, the start-up time (imports and Spark), the
apply+write time and the verdict counts. Run it in the venv `tests/dqx/refresh` or
`bench/dqx-vs-rules` makes: it is not part of CI.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

started = time.monotonic()

from unittest.mock import MagicMock  # noqa: E402

import yaml  # noqa: E402
from databricks.labs.dqx.engine import DQEngine  # noqa: E402
from databricks.sdk import WorkspaceClient  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402


def spark_session():
    return (
        SparkSession.builder.master("local[2]")
        .appName("dqx-parity")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .getOrCreate()
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--key", help="write only this column and the result columns")
    parser.add_argument(
        "--directory",
        action="store_true",
        help="write OUT as a directory of as many files as Spark makes (no single-file coalesce, which runs the whole job in one task)",
    )
    args = parser.parse_args()

    spark = spark_session()
    spark.sparkContext.setLogLevel("ERROR")
    engine = DQEngine(MagicMock(spec=WorkspaceClient), spark=spark)
    with open(args.checks, encoding="utf-8") as f:
        checks = yaml.safe_load(f)
    problems = engine.validate_checks(checks)
    if problems.has_errors:
        sys.exit(f"{args.checks}: DQX refuses the checks: {problems.errors}")
    start_up = time.monotonic() - started

    applying = time.monotonic()
    checked = engine.apply_checks_by_metadata(spark.read.parquet(args.input), checks)
    if args.key:
        checked = checked.select(args.key, "_errors", "_warnings")
    if args.directory:
        checked.write.mode("overwrite").parquet(args.output)
        apply_and_write = time.monotonic() - applying
    else:
        scratch = tempfile.mkdtemp(prefix="dqx-out-")
        checked.coalesce(1).write.mode("overwrite").parquet(scratch)
        apply_and_write = time.monotonic() - applying
        [part] = [name for name in os.listdir(scratch) if name.endswith(".parquet")]
        shutil.move(os.path.join(scratch, part), args.output)
        shutil.rmtree(scratch)
    result = spark.read.parquet(args.output)
    counts = {
        "rows": result.count(),
        "with_errors": result.where("_errors IS NOT NULL").count(),
        "with_warnings": result.where("_warnings IS NOT NULL").count(),
    }
    print(json.dumps({"start_up_s": round(start_up, 2), "apply_and_write_s": round(apply_and_write, 2), **counts}))


if __name__ == "__main__":
    main()
