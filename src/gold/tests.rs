//! The gold cores on hand-made batches: merge order independence, the SQL aggregates, and
//! quality_daily's additivity.

use std::sync::Arc;

use arrow::array::{AsArray, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit};

use super::*;

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// A silver-like schema with the columns the current state and the aggregates use.
fn silver_schema() -> SchemaRef {
    let errors = crate::rules::result_fields().into_iter().find(|f| f.name() == "_errors").map(|f| f.data_type().clone()).unwrap();
    Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Utf8, true),
        Field::new("line_number", DataType::Int32, true),
        Field::new("order_status", DataType::Utf8, true),
        Field::new("event_time", utc(), true),
        Field::new("kafka_partition", DataType::Int32, true),
        Field::new("kafka_offset", DataType::Int64, true),
        Field::new("_errors", errors, true),
        Field::new("flag_check", DataType::Utf8, false),
    ]))
}

/// Rows (order, line, status, event time, offset, has errors).
fn silver_rows(rows: &[(&str, i32, &str, i64, i64, bool)]) -> RecordBatch {
    let schema = silver_schema();
    let errors_type = schema.field_with_name("_errors").unwrap().data_type().clone();
    // Rows that failed get a non-null (empty) `_errors` list: "not null" is all that matters.
    let DataType::List(item) = &errors_type else { unreachable!() };
    let offsets = arrow::buffer::OffsetBuffer::new(vec![0i32; rows.len() + 1].into());
    let nulls = arrow::buffer::NullBuffer::from(rows.iter().map(|r| r.5).collect::<Vec<_>>());
    let errors = Arc::new(ListArray::new(item.clone(), offsets, arrow::array::new_empty_array(item.data_type()), Some(nulls)));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.3)).with_timezone("UTC")),
            Arc::new(Int32Array::from(vec![0; rows.len()])),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.4))),
            errors,
            Arc::new(StringArray::from(vec!["PASS"; rows.len()])),
        ],
    )
    .unwrap()
}

fn statuses(batch: &RecordBatch) -> Vec<(String, i32, String, i64)> {
    let (orders, lines) = (
        batch.column_by_name("order_id").unwrap().as_string::<i32>(),
        batch.column_by_name("line_number").unwrap().as_primitive::<arrow::datatypes::Int32Type>(),
    );
    let status = batch.column_by_name("order_status").unwrap().as_string::<i32>();
    let events = batch.column_by_name(EVENTS).unwrap().as_primitive::<Int64Type>();
    (0..batch.num_rows()).map(|i| (orders.value(i).to_owned(), lines.value(i), status.value(i).to_owned(), events.value(i))).collect()
}

#[test]
fn the_latest_event_wins_whatever_the_batching() {
    let spec = CurrentSpec::purchase_orders();
    let schema = spec.schema(&silver_schema()).unwrap();
    let events = [
        ("ORD-000002", 1, "NEW", 10, 1, false),
        ("ORD-000001", 1, "NEW", 10, 2, false),
        ("ORD-000001", 1, "SHIPPED", 30, 5, false),
        ("ORD-000001", 1, "PROCESSING", 20, 4, false),
        // Same time as SHIPPED, later offset: wins the tie.
        ("ORD-000001", 1, "DELIVERED", 30, 6, false),
        // Failed its error checks: never enters the current state.
        ("ORD-000001", 1, "CANCELLED", 99, 7, true),
        ("ORD-000001", 2, "NEW", 10, 3, false),
    ];
    let all_at_once = spec.merge(&schema, &RecordBatch::new_empty(schema.clone()), &silver_rows(&events)).unwrap();
    let mut one_by_one = RecordBatch::new_empty(schema.clone());
    for event in events.iter().rev() {
        one_by_one = spec.merge(&schema, &one_by_one, &silver_rows(&[*event])).unwrap();
    }
    assert_eq!(all_at_once, one_by_one);
    assert_eq!(
        statuses(&all_at_once),
        vec![
            ("ORD-000001".to_owned(), 1, "DELIVERED".to_owned(), 4),
            ("ORD-000001".to_owned(), 2, "NEW".to_owned(), 1),
            ("ORD-000002".to_owned(), 1, "NEW".to_owned(), 1),
        ]
    );
    let first = all_at_once.column_by_name(FIRST_EVENT_TIME).unwrap();
    assert_eq!(arrow::compute::cast(first, &DataType::Int64).unwrap().as_primitive::<Int64Type>().value(0), 10);
}

#[tokio::test]
async fn order_status_completes_only_when_every_item_is_delivered() {
    let spec = CurrentSpec::purchase_orders();
    let schema = spec.schema(&silver_schema()).unwrap();
    let events = [
        ("A", 1, "DELIVERED", 10, 1, false),
        ("A", 2, "DELIVERED", 10, 2, false),
        ("B", 1, "DELIVERED", 10, 3, false),
        ("B", 2, "SHIPPED", 10, 4, false),
        ("C", 1, "CANCELLED", 10, 5, false),
    ];
    let current = spec.merge(&schema, &RecordBatch::new_empty(schema.clone()), &silver_rows(&events)).unwrap();
    // The test schema has no money columns: a query over what it has.
    let status = Aggregate {
        name: "order_status_test".to_owned(),
        sql: "SELECT order_id, CAST(count(*) AS BIGINT) AS items,
                     CASE WHEN sum(CASE WHEN order_status = 'DELIVERED' THEN 1 ELSE 0 END) = count(*) THEN 'COMPLETED'
                          WHEN sum(CASE WHEN order_status = 'CANCELLED' THEN 1 ELSE 0 END) = count(*) THEN 'CANCELLED'
                          ELSE 'OPEN' END AS completion_status
              FROM current_state GROUP BY order_id ORDER BY order_id"
            .to_owned(),
        upkeep: super::Upkeep::PerEntity,
    };
    let rows = status.evaluate(&current).await.unwrap();
    let completion: Vec<&str> = rows.column(2).as_string::<i32>().iter().flatten().collect();
    assert_eq!(completion, ["COMPLETED", "OPEN", "CANCELLED"]);
    assert_eq!(rows.column(1).as_primitive::<Int64Type>().values().to_vec(), [2, 2, 1]);
}

/// The configuration of one built-in stream, as a stage sees it.
fn built_in_stream(name: &str) -> crate::config::Config {
    let config = crate::config::Config { streams: vec![serde_yaml::from_str(&format!("name: {name}")).unwrap()], ..Default::default() };
    config.for_stream(&config.stream())
}

#[test]
fn the_shipped_models_are_valid_sql_over_their_streams_schema() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for name in crate::config::BUILT_IN_STREAMS {
        let config = built_in_stream(name);
        let silver = crate::silver::schemas(&config).unwrap().silver;
        let stream = config.stream();
        let current = RecordBatch::new_empty(CurrentSpec::of(&stream.current).schema(&silver).unwrap());
        let models = model::load(&stream.gold_models).unwrap();
        assert!(!models.is_empty(), "{name} has models");
        let mut results: Vec<(String, RecordBatch)> = Vec::new();
        for aggregate in models {
            let rows = match &aggregate.upkeep {
                Upkeep::Derived { from } => {
                    let inputs: Vec<(&str, &RecordBatch)> =
                        from.iter().map(|source| (source.as_str(), &results.iter().find(|(n, _)| n == source).unwrap().1)).collect();
                    runtime.block_on(aggregate.evaluate_over(&inputs))
                }
                _ => runtime.block_on(aggregate.evaluate(&current)),
            };
            let rows = rows.unwrap_or_else(|e| panic!("{}: {e}", aggregate.name));
            results.push((aggregate.name.clone(), rows.clone()));
            assert_eq!(rows.num_rows(), 0);
            for field in rows.schema().fields() {
                assert!(
                    !matches!(field.data_type(), DataType::UInt64 | DataType::UInt32 | DataType::Timestamp(TimeUnit::Nanosecond, _)),
                    "{}: {field:?} cannot go to Delta",
                    aggregate.name
                );
            }
            if let Upkeep::Additive(spec) = &aggregate.upkeep {
                for column in spec.groups.iter().chain([&spec.count]).chain(&spec.max).chain(spec.ratios.iter().map(|r| &r.column)) {
                    assert!(rows.schema().field_with_name(column).is_ok(), "{}: the header names {column}, which the query lacks", aggregate.name);
                }
            }
        }
    }
}

fn quality_rows(rows: &[(i64, &str, Option<f64>)]) -> RecordBatch {
    let schema = quality::input_schema();
    let n = rows.len();
    let times = TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.0)).with_timezone("UTC");
    RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(times.clone()),
            Arc::new(times),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.2))),
            arrow::array::new_null_array(schema.field(4).data_type(), n),
            arrow::array::new_null_array(schema.field(5).data_type(), n),
            arrow::array::new_null_array(&DataType::Utf8, n),
        ],
    )
    .unwrap()
}

#[test]
fn quality_daily_is_additive_and_exact() {
    const DAY: i64 = 86_400_000_000;
    let rows = [(0, "PASS", Some(1.0)), (5, "WARNING", Some(0.9)), (DAY + 1, "FAIL", Some(0.1)), (DAY + 2, "PASS", Some(1.0 / 3.0))];
    let mut whole = QualityDaily::default();
    whole.add_rows(&quality_rows(&rows)).unwrap();
    let mut parts = QualityDaily::default();
    for row in rows.iter().rev() {
        let mut part = QualityDaily::default();
        part.add_rows(&quality_rows(&[*row])).unwrap();
        // Through the table's own representation, as a refresh does.
        part.absorb(QualityDaily::from_batch(&parts.to_batch(0.95).unwrap()).unwrap());
        parts = part;
    }
    assert_eq!(whole, parts);
    let batch = whole.to_batch(0.95).unwrap();
    let ints = |name: &str| batch.column_by_name(name).unwrap().as_primitive::<Int64Type>().values().to_vec();
    assert_eq!((ints("rows"), ints("pass_rows"), ints("warning_rows"), ints("fail_rows")), (vec![2, 2], vec![1, 1], vec![1, 0], vec![0, 1]));
    // Day one: both rows pass the error checks (a warning passes); day two: one of two.
    let shares = batch.column_by_name("error_pass_share").unwrap().as_primitive::<arrow::datatypes::Float64Type>().values().to_vec();
    let below: Vec<Option<bool>> = batch.column_by_name("below_threshold").unwrap().as_boolean().iter().collect();
    assert_eq!((shares, below), (vec![1.0, 0.5], vec![Some(false), Some(true)]));
    let lenient = whole.to_batch(0.5).unwrap();
    let below: Vec<Option<bool>> = lenient.column_by_name("below_threshold").unwrap().as_boolean().iter().collect();
    assert_eq!(below, [Some(false), Some(false)], "a share equal to the threshold meets it");
    let means = batch.column_by_name("mean_quality_score").unwrap().as_primitive::<arrow::datatypes::Float64Type>();
    assert!((means.value(0) - 0.95).abs() < 1e-12 && (means.value(1) - (0.1 + 1.0 / 3.0) / 2.0).abs() < 1e-12);
}

#[tokio::test]
async fn most_sold_ranks_the_last_30_delivery_days() {
    use arrow::array::{Date32Array, Int64Array};
    let models = model::load(&crate::config::GoldModels::BuiltIn(crate::config::PURCHASE_ORDERS)).unwrap();
    let most_sold = models.iter().find(|m| m.name == "most_sold_product_last_month").unwrap();
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("delivery_date", DataType::Date32, true),
        arrow::datatypes::Field::new("product_id", DataType::Utf8, true),
        arrow::datatypes::Field::new("product_name", DataType::Utf8, true),
        arrow::datatypes::Field::new("units", DataType::Int64, true),
        arrow::datatypes::Field::new("orders", DataType::Int64, true),
    ]));
    // Day 100 is the latest: days 71..=100 are the window, day 70 is out of it.
    let rows =
        [(70, "PRD003", 500, 9), (71, "PRD001", 5, 1), (80, "PRD001", 5, 2), (100, "PRD002", 8, 3), (71, "PRD002", 1, 1), (90, "PRD003", 1, 1)];
    let daily = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| format!("name of {}", r.1)))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3))),
        ],
    )
    .unwrap();
    let ranked = most_sold.evaluate_over(&[("product_deliveries_daily", &daily)]).await.unwrap();
    let texts = |name: &str| ranked.column_by_name(name).unwrap().as_string::<i32>().iter().flatten().map(str::to_owned).collect::<Vec<_>>();
    let ints = |name: &str| ranked.column_by_name(name).unwrap().as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(texts("product_id"), ["PRD001", "PRD002", "PRD003"]);
    assert_eq!(
        (ints("sales_rank"), ints("units"), ints("orders"), ints("sales_days")),
        (vec![1, 2, 3], vec![10, 9, 1], vec![3, 4, 1], vec![2, 2, 1])
    );
    let shares = ranked.column_by_name("share_of_units").unwrap().as_primitive::<arrow::datatypes::Float64Type>().values().to_vec();
    assert_eq!(shares, [0.5, 0.45, 0.05], "day 70's 500 units are outside the window");
    let dates = |name: &str| ranked.column_by_name(name).unwrap().as_primitive::<arrow::datatypes::Date32Type>().values().to_vec();
    assert_eq!((dates("window_start"), dates("window_end")), (vec![71; 3], vec![100; 3]));
}
