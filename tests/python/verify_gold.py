"""Independent check of medallion's current-state and gold tables: recompute them from silver
(and quarantine) with polars over the Delta tables as the Python `deltalake` reader sees them,
and compare every row. Shares no code with medallion (nor its gold SQL files).

    python verify_gold.py --lake LAKE_ROOT [--stream purchase_orders|payments|pos|clickstream|ecommerce|inventory]

Definitions (README, "Gold"): the current state holds, per key ((order_id, line_number) for
purchase orders, transaction_id for payments), the silver row without errors with the latest
event_time (ties: the later Kafka partition and offset); the aggregates are over it; quality_daily
is over silver and quarantine by UTC day of event_time (of kafka_timestamp for undecodable rows).
"""

import argparse
import json
import sys

import polars as pl


def read(lake, table):
    return pl.read_delta(f"{lake}/{table}")


def current_from_silver(silver, key):
    rows = silver.filter(pl.col("_errors").is_null() & pl.all_horizontal([pl.col(k).is_not_null() for k in key]))
    firsts = rows.group_by(key).agg(pl.col("event_time").min().alias("first_event_time"), pl.len().cast(pl.Int64).alias("events"))
    latest = rows.sort(["event_time", "kafka_partition", "kafka_offset"]).group_by(key, maintain_order=True).last()
    return latest.drop("_errors").join(firsts, on=key)


def quality_daily(silver, quarantine):
    checked = pl.concat([silver.select("event_time", "kafka_timestamp", "flag_check", "dqx_quality_score"),
                         quarantine.select("event_time", "kafka_timestamp", "flag_check", "dqx_quality_score")])
    return (
        checked.with_columns(pl.coalesce("event_time", "kafka_timestamp").dt.date().alias("day"))
        .group_by("day")
        .agg(
            pl.len().cast(pl.Int64).alias("rows"),
            (pl.col("flag_check") == "PASS").sum().cast(pl.Int64).alias("pass_rows"),
            (pl.col("flag_check") == "WARNING").sum().cast(pl.Int64).alias("warning_rows"),
            (~pl.col("flag_check").is_in(["PASS", "WARNING"])).sum().cast(pl.Int64).alias("fail_rows"),
            pl.col("dqx_quality_score").mean().alias("mean_quality_score"),
            pl.col("flag_check").is_in(["PASS", "WARNING"]).mean().alias("error_pass_share"),
        )
    )


QUALITY_COLUMNS = ["rows", "pass_rows", "warning_rows", "fail_rows", "mean_quality_score", "error_pass_share"]


def payment_tables(lake, silver, quarantine):
    current = current_from_silver(silver, ["transaction_id"])
    status = pl.col("status")
    captured = status.is_in(["CAPTURED", "REFUNDED"])
    dated = current.filter(pl.col("first_event_time").is_not_null()).with_columns(pl.col("first_event_time").dt.date().alias("day"))
    daily = dated.group_by("day", "payment_method", "currency", "country").agg(
        pl.len().cast(pl.Int64).alias("payments"),
        pl.col("amount").sum().alias("amount"),
        pl.col("amount").filter(captured).sum().alias("captured_amount"),
        (status == "DECLINED").sum().cast(pl.Int64).alias("declined"),
        (status == "REFUNDED").sum().cast(pl.Int64).alias("refunded"),
    )
    merchants = (
        dated.filter(pl.col("merchant_id").is_not_null())
        .group_by("day", "merchant_id")
        .agg(
            pl.col("merchant_name").max(),
            pl.len().cast(pl.Int64).alias("payments"),
            captured.sum().cast(pl.Int64).alias("captured"),
            (status == "DECLINED").sum().cast(pl.Int64).alias("declined"),
            (status == "REFUNDED").sum().cast(pl.Int64).alias("refunded"),
        )
        .with_columns(
            (pl.col("declined") / pl.col("payments")).alias("decline_rate"),
            pl.when(pl.col("captured") == 0).then(None).otherwise(pl.col("refunded") / pl.col("captured")).alias("refund_rate"),
        )
    )
    return {
        "silver/payments_current": (current, ["transaction_id"], "all"),
        "gold/payments_daily": (daily, ["day", "payment_method", "currency", "country"], None),
        "gold/payments_merchant_daily": (merchants, ["day", "merchant_id"], None),
        "gold/payments_quality_daily": (quality_daily(silver, quarantine), ["day"], QUALITY_COLUMNS),
    }


def order_details(lake, current):
    """The current line items with their dimension members, as the lake's dimensions hold them."""
    products = read(lake, "gold/dim_product").select("product_id", "sku", "product_name", "category", "brand")
    customers = read(lake, "gold/dim_customer").select("customer_id", "customer_name", "segment", "home_store")
    vendors = read(lake, "gold/dim_vendor").select("vendor_id", "vendor_name")
    return (
        current.drop("product_name")
        .join(products, on="product_id", how="left")
        .join(customers, on="customer_id", how="left")
        .join(vendors, on="vendor_id", how="left")
        .select(
            "order_id", "line_number", "order_status", "payment_status", "order_date", "fiscal_quarter", "product_id", "sku",
            "product_name", "category", "brand", "quantity", "unit_price", "total_amount", "discount_amount", "currency",
            "customer_id", "customer_name", "segment", "home_store", "vendor_id", "vendor_name", "warehouse_location",
            "sales_channel", "payment_method", "first_event_time", pl.col("event_time").alias("last_event_time"),
        )
    )


def deliveries(current):
    """Per day of delivery x product, then the last 30 delivery days ranked by units."""
    daily = (
        current.filter((pl.col("order_status") == "DELIVERED") & pl.col("product_id").is_not_null() & pl.col("quantity").is_not_null())
        .with_columns(pl.col("event_time").dt.date().alias("delivery_date"))
        .group_by("delivery_date", "product_id")
        .agg(
            pl.col("product_name").max(),
            pl.col("quantity").sum().cast(pl.Int64).alias("units"),
            pl.col("order_id").n_unique().cast(pl.Int64).alias("orders"),
        )
    )
    last = daily["delivery_date"].max()
    recent = daily.filter(pl.col("delivery_date") > pl.lit(last) - pl.duration(days=30))
    ranked = (
        recent.group_by("product_id")
        .agg(
            pl.col("product_name").max(),
            pl.col("units").sum().cast(pl.Int64),
            pl.col("orders").sum().cast(pl.Int64),
            pl.len().cast(pl.Int64).alias("sales_days"),
        )
        .sort(["units", "orders", "product_id"], descending=[True, True, False])
        .with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("sales_rank"),
            (pl.col("units") / pl.col("units").sum()).alias("share_of_units"),
            (pl.lit(last) - pl.duration(days=29)).cast(pl.Date).alias("window_start"),
            pl.lit(last).alias("window_end"),
        )
    )
    return daily, ranked


def orphans(details):
    """Rows that passed every rule (no warning) but whose keys miss a dimension member."""
    passed = details.filter(pl.col("flag_check") == "PASS")
    missing = passed.filter(pl.col("sku").is_null() | pl.col("customer_name").is_null() | pl.col("vendor_name").is_null())
    return [f"gold/order_details: {missing.height} valid rows without a dimension member, e.g. {missing.head(3).to_dicts()}"] if missing.height else []


def purchase_order_tables(lake, silver, quarantine):
    current = current_from_silver(silver, ["order_id", "line_number"])
    delivered = pl.col("order_status") == "DELIVERED"
    cancelled = pl.col("order_status") == "CANCELLED"
    order_status = (
        current.group_by("order_id")
        .agg(
            pl.len().cast(pl.Int64).alias("line_items"),
            delivered.sum().cast(pl.Int64).alias("delivered_items"),
            cancelled.sum().cast(pl.Int64).alias("cancelled_items"),
            pl.col("total_amount").sum().alias("order_total"),
            pl.col("first_event_time").min().alias("first_event_time"),
            pl.col("event_time").max().alias("last_event_time"),
        )
        .with_columns(
            pl.when(pl.col("delivered_items") == pl.col("line_items")).then(pl.lit("COMPLETED"))
            .when(pl.col("cancelled_items") == pl.col("line_items")).then(pl.lit("CANCELLED"))
            .otherwise(pl.lit("OPEN")).alias("completion_status")
        )
    )
    product_sales = (
        current.filter(pl.col("order_date").is_not_null() & pl.col("product_id").is_not_null())
        .with_columns(pl.col("order_date").dt.truncate("1mo").alias("month"))
        .group_by("month", "product_id")
        .agg(
            pl.col("product_name").max(),
            pl.col("quantity").sum().cast(pl.Int64).alias("units_ordered"),
            pl.col("total_amount").sum().alias("revenue_ordered"),
            pl.col("quantity").filter(delivered).sum().cast(pl.Int64).alias("units_delivered"),
            pl.col("total_amount").filter(delivered).sum().alias("revenue_delivered"),
            pl.col("order_id").n_unique().cast(pl.Int64).alias("orders"),
        )
    )
    vendor_spend = (
        current.filter(~cancelled.fill_null(False) & pl.col("fiscal_quarter").is_not_null() & pl.col("vendor_id").is_not_null())
        .group_by("fiscal_quarter", "vendor_id")
        .agg(
            pl.col("total_amount").sum().alias("spend"),
            pl.col("quantity").sum().cast(pl.Int64).alias("units"),
            pl.len().cast(pl.Int64).alias("items"),
            pl.col("order_id").n_unique().cast(pl.Int64).alias("orders"),
        )
    )
    details = order_details(lake, current)
    daily, most_sold = deliveries(current)
    return {
        # Every column the current table has: silver's row as it was, the verdict, first time, events.
        "silver/purchase_order_items_current": (current, ["order_id", "line_number"], "all"),
        "gold/order_details": (details, ["order_id", "line_number"], None),
        "gold/product_deliveries_daily": (daily, ["delivery_date", "product_id"], None),
        "gold/most_sold_product_last_month": (most_sold, ["product_id"], None),
        "gold/order_status": (order_status, ["order_id"], None),
        "gold/product_sales_monthly": (product_sales, ["month", "product_id"], None),
        "gold/vendor_spend_quarterly": (vendor_spend, ["fiscal_quarter", "vendor_id"], None),
        "gold/quality_daily": (quality_daily(silver, quarantine), ["day"], QUALITY_COLUMNS),
    }


def pos_tables(lake, silver, quarantine):
    current = current_from_silver(silver, ["transaction_id", "line_number"])
    fact = current.select(
        "transaction_id", "line_number", pl.col("business_date").alias("date_key"),
        (pl.col("event_time").dt.hour() * 4 + pl.col("event_time").dt.minute() // 15).cast(pl.Int32).alias("time_slot"),
        "location_id", "channel_id", "register_id", "sku", "customer_id", "tender_type", "quantity", "unit_price",
        (pl.col("quantity").cast(pl.Decimal(22, 0)) * pl.col("unit_price")).cast(pl.Decimal(22, 2)).alias("gross_amount"),
        pl.col("discount_amount").fill_null(0).alias("discount_amount"),
        pl.col("line_total").alias("net_amount"), "currency", "event_time",
    )
    return {
        "silver/pos_current": (current, ["transaction_id", "line_number"], "all"),
        "gold/fact_sales": (fact, ["transaction_id", "line_number"], None),
        "gold/pos_quality_daily": (quality_daily(silver, quarantine), ["day"], QUALITY_COLUMNS),
    }


def clickstream_tables(lake, silver, quarantine):
    current = current_from_silver(silver, ["session_id", "event_sequence"])
    kind = pl.col("event_type")
    line_value = pl.col("quantity").cast(pl.Decimal(22, 0)) * pl.col("unit_price")
    visits = current.group_by("session_id").agg(
        pl.col("event_time").min().dt.date().alias("date_key"),
        pl.col("channel_id").max(),
        pl.col("customer_id").max(),
        pl.col("device").max(),
        pl.col("event_time").min().alias("session_start"),
        pl.col("event_time").max().alias("last_event_time"),
        pl.col("sku").filter(kind == "ADD_TO_CART").n_unique().cast(pl.Int64).alias("products_added"),
        pl.col("quantity").filter(kind == "ADD_TO_CART").sum().cast(pl.Int64).alias("units_added"),
        pl.col("quantity").filter(kind == "REMOVE_FROM_CART").sum().cast(pl.Int64).alias("units_removed"),
        (line_value.filter(kind == "ADD_TO_CART").sum() - line_value.filter(kind == "REMOVE_FROM_CART").sum()).cast(pl.Decimal(22, 2)).alias("cart_value"),
        (kind == "CHECKOUT").any().alias("reached_checkout"),
        (kind == "ADD_TO_CART").sum().alias("adds"),
        (kind == "PURCHASE").sum().alias("purchases"),
    )
    abandoned = visits.filter((pl.col("adds") > 0) & (pl.col("purchases") == 0)).drop("adds", "purchases")
    return {
        "silver/clickstream_current": (current, ["session_id", "event_sequence"], "all"),
        "gold/fact_cart_abandonment": (abandoned, ["session_id"], None),
        "gold/clickstream_quality_daily": (quality_daily(silver, quarantine), ["day"], QUALITY_COLUMNS),
    }


def ecommerce_tables(lake, silver, quarantine):
    current = current_from_silver(silver, ["order_id", "line_number"])
    fact = current.select(
        "order_id", "line_number", pl.col("order_date").alias("date_key"), "channel_id", "customer_id", "sku",
        pl.col("fulfilment_location_id").alias("location_id"), "order_status", "shipping_method", "quantity", "unit_price",
        pl.col("discount_amount").fill_null(0).alias("discount_amount"), pl.col("line_total").alias("net_amount"), "shipping_amount",
        (pl.col("order_status") == "DELIVERED").alias("is_fulfilled"), pl.col("first_event_time").alias("placed_at"),
        pl.col("event_time").alias("status_time"),
    )
    return {
        "silver/ecommerce_current": (current, ["order_id", "line_number"], "all"),
        "gold/fact_sales_ecommerce": (fact, ["order_id", "line_number"], None),
        "gold/ecommerce_quality_daily": (quality_daily(silver, quarantine), ["day"], QUALITY_COLUMNS),
    }


def inventory_tables(lake, silver, quarantine):
    current = current_from_silver(silver, ["movement_id"])
    slot = (pl.col("event_time").dt.hour() * 4 + pl.col("event_time").dt.minute() // 15).cast(pl.Int32)
    fact = current.select(
        "movement_id", pl.col("business_date").alias("date_key"), slot.alias("time_slot"), "location_id", "sku", "movement_type",
        "reference_id", "quantity", "quantity_on_hand", "unit_cost",
        (pl.col("quantity").cast(pl.Decimal(22, 0)) * pl.col("unit_cost")).cast(pl.Decimal(22, 2)).alias("value_change"), "event_time",
    )
    snapshot = current.filter(pl.col("movement_type") == "STOCK_COUNT").select(
        "movement_id", pl.col("business_date").alias("date_key"), "location_id", "sku", "quantity_on_hand", "unit_cost",
        (pl.col("quantity_on_hand").cast(pl.Decimal(22, 0)) * pl.col("unit_cost")).cast(pl.Decimal(22, 2)).alias("stock_value"),
    )
    return {
        "silver/inventory_current": (current, ["movement_id"], "all"),
        "gold/fact_inventory": (fact, ["movement_id"], None),
        "gold/fact_inventory_snapshot": (snapshot, ["movement_id"], None),
        "gold/inventory_quality_daily": (quality_daily(silver, quarantine), ["day"], QUALITY_COLUMNS),
    }


# Stream → (its fact table, the current state's key, the fact's dimension keys: column → dimension).
FACTS = {
    "pos": ("gold/fact_sales", ["transaction_id", "line_number"],
            {"sku": "dim_product", "location_id": "dim_location", "channel_id": "dim_channel", "customer_id": "dim_customer", "date_key": "dim_date", "time_slot": "dim_time"}),
    "ecommerce": ("gold/fact_sales_ecommerce", ["order_id", "line_number"],
                  {"sku": "dim_product", "location_id": "dim_location", "channel_id": "dim_channel", "customer_id": "dim_customer", "date_key": "dim_date"}),
    "inventory": ("gold/fact_inventory", ["movement_id"], {"sku": "dim_product", "location_id": "dim_location", "date_key": "dim_date", "time_slot": "dim_time"}),
}


def fact_orphans(lake, stream, current):
    """Fact rows that passed every rule (by `current`, the recomputed current state) but whose
    keys miss a dimension member."""
    table, keys, dimensions = FACTS[stream]
    passed = read(lake, table).join(current.filter(pl.col("flag_check") == "PASS").select(keys), on=keys)
    problems = []
    for column, dimension in dimensions.items():
        members = read(lake, f"gold/{dimension}").select(column)
        missing = passed.join(members, on=column, how="anti")
        if missing.height:
            problems.append(f"{table}: {missing.height} valid rows whose {column} is not in {dimension}, e.g. {missing.head(3).to_dicts()}")
    return problems


def compare(name, expected, actual, key, columns):
    """Rows of `actual` against `expected` by `key`: the listed columns, every column of
    `expected` (None), or every column of `actual` ("all")."""
    problems = []
    if columns == "all":
        columns = [c for c in actual.columns if c not in key]
        problems += [f"{name}.{c}: no such column in the recomputation" for c in columns if c not in expected.columns]
        columns = [c for c in columns if c in expected.columns]
    columns = columns or [c for c in expected.columns if c not in key]
    if expected.height != actual.height:
        problems.append(f"{name}: {actual.height} rows, expected {expected.height}")
    joined = expected.select(key + columns).join(actual.select(key + columns), on=key, how="full", suffix="_actual", coalesce=True)
    for column in columns:
        left, right = pl.col(column), pl.col(f"{column}_actual")
        if expected.schema[column] == pl.Float64:
            differs = ((left - right).abs() > 1e-9) | (left.is_null() != right.is_null())
        else:
            differs = ~left.eq_missing(right)
        bad = joined.filter(differs)
        if bad.height:
            problems.append(f"{name}.{column}: {bad.height} rows differ, e.g. {bad.select(key + [column, f'{column}_actual']).head(3).to_dicts()}")
    return problems


# Stream → (its silver table, the tables recomputed from silver and quarantine).
STREAMS = {
    "purchase_orders": ("silver/purchase_order_items", purchase_order_tables),
    "payments": ("silver/payments", payment_tables),
    "pos": ("silver/pos", pos_tables),
    "clickstream": ("silver/clickstream", clickstream_tables),
    "ecommerce": ("silver/ecommerce", ecommerce_tables),
    "inventory": ("silver/inventory", inventory_tables),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", required=True)
    parser.add_argument("--stream", choices=sorted(STREAMS), default="purchase_orders")
    args = parser.parse_args()
    silver_table, expected_tables = STREAMS[args.stream]
    silver = read(args.lake, silver_table)
    quarantine = read(args.lake, f"{silver_table}_quarantine")
    problems, rows = [], {}
    tables = expected_tables(args.lake, silver, quarantine)
    for name, (expected, key, columns) in tables.items():
        actual = read(args.lake, name)
        rows[name] = actual.height
        problems += compare(name, expected, actual, key, columns)
    # The recomputed current state (each stream's first table) says which rows passed every rule.
    current, current_key, _ = next(iter(tables.values()))
    if args.stream == "purchase_orders":
        details = tables["gold/order_details"][0]
        problems += orphans(details.join(current.select(current_key + ["flag_check"]), on=current_key))
    if args.stream in FACTS:
        problems += fact_orphans(args.lake, args.stream, current)
    bronze = read(args.lake, silver_table.replace("silver/", "bronze/", 1))
    if bronze.height != silver.height + quarantine.height:
        problems.append(f"{silver_table}: {silver.height} rows + {quarantine.height} quarantined, but bronze holds {bronze.height}")
    print(json.dumps({"lake": args.lake, "stream": args.stream, "silver_rows": silver.height, "quarantine_rows": quarantine.height, "rows": rows, "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
