#!/usr/bin/env python3
"""The bronze a data engineer would write in Python, for `cargo bench --bench bronze_ingest`.

confluent-kafka consumes the topic, fastavro decodes every value against the schemas in schemas/
(Confluent ids through the default static map, single-object frames through their CRC-64-AVRO
fingerprint), and the `deltalake` package's `write_deltalake` appends batches of 50,000 rows
with bronze's columns (Kafka coordinates, key, headers, raw payload, decode error, the business
columns, ingestion time and date) to a Delta table partitioned by ingestion_date, committing the
consumer's offsets after each append. An undecodable message is kept with its error, as bronze
keeps it. Stops after --count messages and prints one JSON line: rows, ingest_seconds (first
message to last commit), commits.
"""
import argparse
import datetime
import io
import json
import time
import uuid
from pathlib import Path

import fastavro
import pyarrow as pa
from confluent_kafka import Consumer
from deltalake import write_deltalake

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
STATIC_IDS = {1: "purchase_order_item.v1.avsc", 2: "purchase_order_item.v2.avsc"}
READER = "purchase_order_item.v2.avsc"
DECIMAL = pa.decimal128(12, 2)
UTC_MICROS = pa.timestamp("us", tz="UTC")
BUSINESS = [
    ("event_id", pa.string()), ("order_id", pa.string()), ("line_number", pa.int32()),
    ("product_id", pa.string()), ("product_name", pa.string()), ("quantity", pa.int32()),
    ("unit_price", DECIMAL), ("total_amount", DECIMAL), ("currency", pa.string()),
    ("customer_id", pa.string()), ("vendor_id", pa.string()), ("warehouse_location", pa.string()),
    ("order_status", pa.string()), ("payment_status", pa.string()), ("payment_method", pa.string()),
    ("event_time", UTC_MICROS), ("created_at", UTC_MICROS), ("order_date", pa.date32()),
    ("fiscal_quarter", pa.string()), ("discount_amount", DECIMAL), ("sales_channel", pa.string()),
]
SCHEMA = pa.schema(
    [
        ("kafka_topic", pa.string()), ("kafka_partition", pa.int32()), ("kafka_offset", pa.int64()),
        ("kafka_timestamp", UTC_MICROS), ("kafka_key", pa.binary()),
        ("kafka_headers", pa.map_(pa.string(), pa.binary())), ("raw_payload", pa.binary()),
        ("payload_size_bytes", pa.int32()), ("schema_ref", pa.string()), ("decode_error", pa.string()),
    ]
    + BUSINESS
    + [("ingestion_timestamp", UTC_MICROS), ("ingestion_date", pa.date32())]
)


def load_schemas():
    by_file, by_fingerprint = {}, {}
    for path in sorted(SCHEMAS.glob("purchase_order_item.*.avsc")):
        parsed = fastavro.parse_schema(json.loads(path.read_text()))
        by_file[path.name] = parsed
        canonical = fastavro.schema.to_parsing_canonical_form(parsed)
        by_fingerprint[bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))] = parsed
    return by_file, by_fingerprint


def decode(value, by_file, by_fingerprint):
    """(schema_ref, record) of one value, resolved to the reader schema."""
    if value[:1] == b"\x00":
        schema_id = int.from_bytes(value[1:5], "big")
        writer, body, ref = by_file[STATIC_IDS[schema_id]], value[5:], f"confluent:{schema_id}"
    elif value[:2] == b"\xc3\x01":
        writer, body, ref = by_fingerprint[value[2:10]], value[10:], f"single-object:{value[2:10].hex()}"
    else:
        raise ValueError(f"unknown framing {value[:2].hex()}")
    return ref, fastavro.schemaless_reader(io.BytesIO(body), writer, by_file[READER])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--batch", type=int, default=50_000)
    args = parser.parse_args()
    by_file, by_fingerprint = load_schemas()
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": f"python-peer-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([args.topic])
    columns = {field.name: [] for field in SCHEMA}
    rows = commits = 0
    first = None

    def flush():
        nonlocal commits
        now = datetime.datetime.now(datetime.timezone.utc)
        count = len(columns["kafka_offset"])
        columns["ingestion_timestamp"] = [now] * count
        columns["ingestion_date"] = [now.date()] * count
        write_deltalake(args.table, pa.Table.from_pydict(columns, schema=SCHEMA), mode="append", partition_by=["ingestion_date"])
        consumer.commit(asynchronous=False)
        commits += 1
        for values in columns.values():
            values.clear()

    while rows < args.count:
        for message in consumer.consume(num_messages=10_000, timeout=1.0):
            if message.error():
                continue
            first = first or time.monotonic()
            value = message.value() or b""
            try:
                ref, record, error = *decode(value, by_file, by_fingerprint), None
            except Exception as exc:  # kept with its error, as bronze keeps it
                ref, record, error = None, {}, str(exc)
            kind, timestamp = message.timestamp()
            columns["kafka_topic"].append(message.topic())
            columns["kafka_partition"].append(message.partition())
            columns["kafka_offset"].append(message.offset())
            columns["kafka_timestamp"].append(
                datetime.datetime.fromtimestamp(timestamp / 1000, datetime.timezone.utc) if kind else None)
            columns["kafka_key"].append(message.key())
            columns["kafka_headers"].append(message.headers())
            columns["raw_payload"].append(value)
            columns["payload_size_bytes"].append(len(value))
            columns["schema_ref"].append(ref)
            columns["decode_error"].append(error)
            for name, _ in BUSINESS:
                columns[name].append(record.get(name))
            rows += 1
            if len(columns["kafka_offset"]) >= args.batch:
                flush()
    if columns["kafka_offset"]:
        flush()
    seconds = time.monotonic() - first
    consumer.close()
    print(json.dumps({"rows": rows, "ingest_seconds": seconds, "commits": commits}))


if __name__ == "__main__":
    main()
