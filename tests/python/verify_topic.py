#!/usr/bin/env python3
"""Independent check of what `medallion produce` wrote to a topic.

Consumes the whole topic with confluent-kafka, decodes every value with fastavro against the
schemas in schemas/ (Confluent ids through the default static map, single-object frames through
their CRC-64-AVRO fingerprint), and checks: the message count, that every key is the order id,
and that the share of records breaking a purchase-order rule is within tolerance. Prints one JSON
line; with --digest-out, writes the sorted SHA-256 of every payload (to compare runs).
Exit 0 when every check holds, 1 otherwise.
"""
import argparse
import hashlib
import io
import json
import re
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import fastavro
from confluent_kafka import Consumer, TopicPartition

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
STATIC_IDS = {1: "purchase_order_item.v1.avsc", 2: "purchase_order_item.v2.avsc"}
ORDER_STATUSES = {"NEW", "PROCESSING", "SHIPPED", "DELIVERED", "CANCELLED"}
PAYMENT_STATUSES = {"PENDING", "PAID", "REFUNDED", "FAILED"}
CURRENCIES = {"USD", "EUR", "GBP", "CAD", "JPY", "CHF", "AUD", "CNY", "SEK", "NOK", "DKK", "PLN", "MXN", "BRL", "INR"}


def load_schemas():
    by_file, by_fingerprint = {}, {}
    for path in sorted(SCHEMAS.glob("*.avsc")):
        parsed = fastavro.parse_schema(json.loads(path.read_text()))
        by_file[path.name] = parsed
        canonical = fastavro.schema.to_parsing_canonical_form(parsed)
        # fastavro prints the fingerprint as its little-endian bytes, the single-object header order
        # (the spec's "null" vector 0x63DD24E7CC258F8A prints as 8a8f25cce724dd63).
        by_fingerprint[bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))] = parsed
    return by_file, by_fingerprint


def decode(value, by_file, by_fingerprint):
    if value[:1] == b"\x00":
        schema = by_file[STATIC_IDS[int.from_bytes(value[1:5], "big")]]
        body = value[5:]
    elif value[:2] == b"\xc3\x01":
        schema = by_fingerprint[value[2:10]]
        body = value[10:]
    else:
        raise ValueError(f"unknown framing {value[:2].hex()}")
    return fastavro.schemaless_reader(io.BytesIO(body), schema, schema)


def broken_rules(r):
    """The purchase-order rules a record breaks (the seed rules plus a currency check)."""
    broken = []
    for field in ("order_id", "product_id", "customer_id"):
        if r.get(field) is None or not r[field].strip():
            broken.append(f"{field}_missing")
    q, p, t = r.get("quantity"), r.get("unit_price"), r.get("total_amount")
    if None not in (q, p, t) and abs(t - q * p) > Decimal("0.01"):
        broken.append("total")
    if q is not None and q <= 0:
        broken.append("quantity_positive")
    if p is not None and p <= 0:
        broken.append("price_positive")
    if r.get("order_status") is not None and r["order_status"] not in ORDER_STATUSES:
        broken.append("order_status")
    if r.get("payment_status") is not None and r["payment_status"] not in PAYMENT_STATUSES:
        broken.append("payment_status")
    if r.get("order_status") == "DELIVERED" and r.get("payment_status") != "PAID":
        broken.append("delivered_paid")
    if r.get("order_id") and not re.search(r"^ORD-[0-9]{6}$", r["order_id"]):
        broken.append("order_id_format")
    if r.get("product_id") and not re.search(r"^PRD[0-9]{3}$", r["product_id"]):
        broken.append("product_id_format")
    if q is not None and q > 1000:
        broken.append("quantity_max")
    if p is not None and p > 50000:
        broken.append("price_max")
    if r.get("currency") is not None and r["currency"] not in CURRENCIES:
        broken.append("currency")
    return broken


def consume_all(bootstrap, topic, expected, timeout):
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"verify-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = sorted(metadata.topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    messages, deadline = [], time.time() + timeout
    while len(messages) < expected and time.time() < deadline:
        batch = consumer.consume(num_messages=10000, timeout=1.0)
        for message in batch:
            if message.error():
                raise RuntimeError(f"consume error: {message.error()}")
            messages.append(message)
    # A little longer: anything beyond the expected count is an error too.
    messages.extend(m for m in consumer.consume(num_messages=10000, timeout=1.0) if not m.error())
    consumer.close()
    return messages


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--invalid-ratio", type=float, default=0.05)
    parser.add_argument("--tolerance", type=float, default=0.005)
    parser.add_argument("--expect-version", type=int)
    parser.add_argument("--digest-out")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    by_file, by_fingerprint = load_schemas()
    messages = consume_all(args.bootstrap, args.topic, args.count, args.timeout)
    problems, invalid, digests = [], 0, []
    for m in messages:
        record = decode(m.value(), by_file, by_fingerprint)
        key = m.key()
        expected_key = record["order_id"].encode() if record["order_id"] is not None else None
        if key != expected_key:
            problems.append(f"partition {m.partition()} offset {m.offset()}: key {key!r} is not order_id {record['order_id']!r}")
        if args.expect_version == 1 and "sales_channel" in record:
            problems.append("a v1 writer produced v2 fields")
        invalid += bool(broken_rules(record))
        digests.append(hashlib.sha256(m.value()).hexdigest())
    if len(messages) != args.count:
        problems.append(f"{len(messages)} messages on the topic, expected {args.count}")
    share = invalid / max(len(messages), 1)
    if abs(share - args.invalid_ratio) > args.tolerance:
        problems.append(f"invalid share {share:.4f} outside {args.invalid_ratio} ± {args.tolerance}")
    if args.digest_out:
        Path(args.digest_out).write_text("\n".join(sorted(digests)) + "\n")
    print(json.dumps({"topic": args.topic, "messages": len(messages), "invalid": invalid,
                      "invalid_share": round(share, 5), "problems": problems[:20]}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
