"""Writes the adversarial corpus for the DQX differential test: values at the edges of every
type the checks read (empty and blank text, Unicode look-alikes of digits and letters, line
terminators, NaN, ±infinity, -0.0, subnormals, timestamps after 2262, malformed dates and
numbers, duplicate and null keys), mixed at random with a fixed seed.

    make_corpus.py OUT.parquet [--rows N]

Needs only pyarrow. The output is committed (tests/data/dqx/corpus/corpus.parquet); DQX's
verdicts on it are made by tests/dqx/refresh.
"""

import argparse
import datetime as dt
import decimal
import random

import pyarrow as pa
import pyarrow.parquet as pq

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)  # the reference "now" the checks name

TEXT = [
    "", " ", "   ", "abc", "ABC", "Abc", "a b", "abc_9", "Ñ", "ñandú", "日本語", "\u00a0", "\t", " x ", "x\n",
    "ORD-123456", "ORD-123456\n", "ORD-123456\n\n", "ORD-123456\r", "ORD-123456\r\n", "ORD-\u0661\u0662\u0663\u0664\u0665\u0666",
    "ORD-12345", "ord-123456", "PRD001", "PRD1000", "PRD00\uff11",
    "a.b@example.com", "a@b", "user+tag@sub.example.org", '"quoted"@example.com', "x@[192.168.0.1]", "a@@example.com",
    "first.last@example.co.uk", ".a@example.com", "a..b@example.com", "a@example.c", "a@-example.com", "Ünï@example.com",
    "123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000", "123e4567e89b12d3a456426614174000",
    "00000000-0000-0000-0000-000000000000", "123e4567-e89b-92d3-a456-426614174000", "123e4567-e89b-42d3-c456-426614174000",
    "192.168.0.1", "256.1.1.1", "01.2.3.4", "0.0.0.0", "255.255.255.255", "\u0661\u0669\u0662.\u0661\u0666\u0668.0.1", " 1.2.3.4", "1.2.3.4\n", "1.2.3",
    "1", "1.50", "1.234", "1e-3", "1E5", "NaN", "nan", "Infinity", "-Infinity", "inf", "\uff11\uff12\uff13", "1,5", "+1.5", "-0.0", ".5", "5.", "0.10", "12.3456",
    "2024-01-31", "2024-1-5", " 2024-01-31", "2024-01-31 ", "+2024-01-31", "20240131", "2024", "2024-1", "24-01-31", "2024-02-30",
    "2024-01-31T10:20:30", "2024-01-31 10:20:30", "2024-01-31T10:20:30.123Z", "2024-01-31T10:20:30+02:00", "2024-01-31 23:59:60",
    "2010-05-11", "2024-01-31T10:20:30.123456", "2024-01-31 10:20", "2024-01-31T10:20:30Z", "2024-01-31 10:20:30 UTC",
    "2024-01-31T10:20:30.1234567", "9999-12-31", "10000-01-01", "2024/01/31", "31-01-2024", "2024-01-31T25:00:00",
    "EUR", "eur", "Eur", "USD", "XXX", "ZZZ", "978", "840", "999", "usd ", "EURO", "XAU",
    "NEW", "new", "New", "PROCESSING", "SHIPPED", "UNKNOWN", "null", "NULL", "None",
]

INTS = [0, 1, -1, 2, 3, 7, 10, 42, 99, 100, 101, 999, 1000, 1001, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), 123456789]
DOUBLES = [
    0.0, -0.0, 1.0, -1.0, 0.1, 0.30000000000000004, 1.005, 2.5, 99.99, 100.0, 100.00000001, 123.456, 1e16, 1.5e-7,
    12345678.9, 0.001, float("nan"), float("inf"), float("-inf"), 5e-324, 1.7976931348623157e308, 1e-5, 1e7, 9999999.0, 50000.0,
]
DECIMALS = ["0", "1.2345", "-5.5000", "99999.9999", "0.0001", "100", "-0.0001", "12.3400"]
TIMESTAMPS = [
    dt.datetime(9999, 12, 31, tzinfo=UTC), dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), dt.datetime(2262, 4, 12, tzinfo=UTC),
    dt.datetime(1900, 1, 1, tzinfo=UTC), dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 31, 10, 20, 30, 123456, tzinfo=UTC),
    dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2030, 1, 1, tzinfo=UTC),
    NOW, NOW - dt.timedelta(seconds=1), NOW + dt.timedelta(seconds=1), NOW + dt.timedelta(minutes=30), NOW + dt.timedelta(hours=2),
    NOW - dt.timedelta(minutes=59), NOW - dt.timedelta(minutes=61), NOW - dt.timedelta(days=1), NOW - dt.timedelta(days=10),
    NOW - dt.timedelta(days=30, seconds=1), NOW + dt.timedelta(days=400),
]
DATES = [dt.date(9999, 12, 31), dt.date(1900, 1, 1), dt.date(2024, 1, 31), dt.date(2024, 2, 29), NOW.date(), NOW.date() - dt.timedelta(days=1),
         NOW.date() - dt.timedelta(days=7), NOW.date() - dt.timedelta(days=8), NOW.date() - dt.timedelta(days=30), NOW.date() + dt.timedelta(days=1)]
KEYS = ["A", "B", "a", " A", "A ", "", "C"]


def pick(rng, pool, null_share=0.08):
    return None if rng.random() < null_share else rng.choice(pool)


def rows(rng, count):
    for row_id in range(count):
        yield {
            "row_id": row_id,
            "s": pick(rng, TEXT),
            "t": pick(rng, TEXT),
            "code": pick(rng, TEXT[-20:] + ["EUR", "USD", "GBP", "JPY"]),
            "i": pick(rng, INTS) if rng.random() < 0.6 else rng.randint(-50, 1500),
            "j": pick(rng, INTS[:12]),
            "d": pick(rng, DOUBLES) if rng.random() < 0.6 else round(rng.uniform(-10, 200), rng.choice([0, 1, 2, 3, 6])),
            "e": pick(rng, DOUBLES[:12]),
            "dec": None if rng.random() < 0.08 else decimal.Decimal(rng.choice(DECIMALS)),
            "ts": pick(rng, TIMESTAMPS),
            "dt": pick(rng, DATES),
            "b": pick(rng, [True, False]),
            "k1": pick(rng, KEYS, 0.1),
            "k2": pick(rng, [1, 2, 3], 0.1),
            "k3": pick(rng, [True, False], 0.1),
            "grp": pick(rng, ["x", "y", "z"], 0.05),
            "f": pick(rng, [0.1, 1.5, -0.0, 0.0, 3.4e38, 1e-7, 2.675, float("nan"), float("inf")]),
            "ref_ts": NOW,
            "ref_dt": NOW.date(),
        }


SCHEMA = pa.schema([
    ("row_id", pa.int64()), ("s", pa.string()), ("t", pa.string()), ("code", pa.string()), ("i", pa.int64()), ("j", pa.int32()),
    ("d", pa.float64()), ("e", pa.float64()), ("dec", pa.decimal128(18, 4)), ("ts", pa.timestamp("us", tz="UTC")), ("dt", pa.date32()),
    ("b", pa.bool_()), ("k1", pa.string()), ("k2", pa.int32()), ("k3", pa.bool_()), ("grp", pa.string()),
    ("f", pa.float32()), ("ref_ts", pa.timestamp("us", tz="UTC")), ("ref_dt", pa.date32()),
])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    table = pa.Table.from_pylist(list(rows(rng, args.rows)), schema=SCHEMA)
    pq.write_table(table, args.output, compression="zstd")
    print(f"{args.output}: {table.num_rows} rows")


if __name__ == "__main__":
    main()
