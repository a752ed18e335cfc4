"""DQX beside `medallion rules apply`: the same rows, the same rules, one invocation.

    dqx_vs_rules.py --medallion BIN --rules CHECKS.yml --data PO.parquet [--copies 10]

Builds the input as `bench/rules.rs` does (the DQX parity data repeated to 1M rows), runs DQX 0.17
on local Spark through tests/dqx/run_dqx.py (start-up and apply+write timed apart), then
`medallion rules apply` on the same file, and prints both with the ratios. The verdict counts
(rows with errors, rows with warnings) must agree, or it exits 1: a speed-up never changes a
result. Run it through bench/dqx-vs-rules, which makes the venv (not part of CI).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_DQX = os.path.join(HERE, "..", "..", "tests", "dqx", "run_dqx.py")


def make_input(data, copies, path):
    table = pq.read_table(data)
    # Row groups of 131,072 rows: Spark splits a file by row group, and one group of 1M rows
    # would leave DQX one task on one core.
    pq.write_table(pa.concat_tables([table] * copies), path, row_group_size=131_072)
    return table.num_rows * copies


def run_dqx(rules, source, output):
    done = subprocess.run(
        # As a data engineer would run it: Spark writes its parts in parallel (a single-file
        # coalesce would run the whole job in one task, on one core).
        [sys.executable, RUN_DQX, "--checks", rules, "--input", source, "--output", output, "--directory"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_medallion(binary, rules, source, output):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(
        [binary, "rules", "apply", "--rules", rules, "--input", source, "--output", output, "--run-id", "bench"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "MEDALLION_LOG": "warn"},
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "peak_mib": after.ru_maxrss / 1024}


def verdicts(path):
    table = pq.read_table(path, columns=["_errors", "_warnings"])
    return {
        "rows": table.num_rows,
        "with_errors": table.num_rows - pc.sum(pc.is_null(table["_errors"])).as_py(),
        "with_warnings": table.num_rows - pc.sum(pc.is_null(table["_warnings"])).as_py(),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--medallion", required=True)
    parser.add_argument("--rules", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dqx-vs-rules-") as work:
        source = os.path.join(work, "input.parquet")
        rows = make_input(args.data, args.copies, source)
        dqx = run_dqx(args.rules, source, os.path.join(work, "dqx"))
        ours_path = os.path.join(work, "medallion.parquet")
        ours = run_medallion(args.medallion, args.rules, source, ours_path)
        ours_verdicts = verdicts(ours_path)
    dqx_verdicts = {key: dqx[key] for key in ("rows", "with_errors", "with_warnings")}
    dqx_total = dqx["start_up_s"] + dqx["apply_and_write_s"]
    print(f"dqx_vs_rules rows={rows} rules={args.rules}")
    print(f"  {'':44} {'wall s':>8} {'CPU s':>7} {'peak MiB':>9}")
    print(f"  {'DQX 0.17, local[2]: start-up (imports, Spark)':44} {dqx['start_up_s']:8.2f}")
    print(f"  {'DQX 0.17, local[2]: apply checks + write':44} {dqx['apply_and_write_s']:8.2f}")
    print(f"  {'medallion rules apply (start to exit)':44} {ours['wall_s']:8.2f} {ours['cpu_s']:7.2f} {ours['peak_mib']:9.0f}")
    print(f"  DQX apply+write / medallion:            {dqx['apply_and_write_s'] / ours['wall_s']:6.1f}x")
    print(f"  DQX start-up + apply+write / medallion: {dqx_total / ours['wall_s']:6.1f}x")
    print(f"  verdicts: DQX {dqx_verdicts}, medallion {ours_verdicts}")
    if dqx_verdicts != ours_verdicts:
        sys.exit("dqx_vs_rules: the verdict counts differ")


if __name__ == "__main__":
    main()
