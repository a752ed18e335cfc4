//! Exactly once when the world around the pipeline changes, against a real broker and real Delta
//! tables read back from storage: the same lake under other spellings of its path, positions
//! written by a version that keyed them by path, a bronze table recreated under silver, a topic
//! deleted and recreated under bronze, a DELETE on bronze.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};
use common::{Lake, OutputWithin, medallion, read_bronze, read_table, run_ok, table_id, txn_version, unique_topic};

const BRONZE: &str = "bronze/purchase_order_items";
const SILVER: &str = "silver/purchase_order_items";
const QUARANTINE: &str = "silver/purchase_order_items_quarantine";
const METRICS: &str = "silver/quality_metrics";

fn produce(topic: &str, count: u64, seed: u64) {
    run_ok(&["produce", "--count", &count.to_string(), "--seed", &seed.to_string(), "--topic", topic]);
}

/// `medallion run --until-caught-up` with the lake spelled `lake`, from `cwd`.
fn run_caught_up(topic: &str, lake: &str, cwd: &std::path::Path) -> std::process::Output {
    medallion()
        .args(["run", "--until-caught-up", "--topic", topic, "--group", &unique_topic("edges"), "--lake", lake])
        .current_dir(cwd)
        .env("MEDALLION_BRONZE__FLUSH_ROWS", "200")
        .output_within()
}

fn assert_success(output: &std::process::Output, what: &str) {
    assert!(output.status.success(), "{what} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// (partition, offset) of every row of the table at `location`.
fn coordinates(location: &str) -> Vec<(i32, i64)> {
    let batch = read_table(location);
    if batch.num_rows() == 0 {
        return Vec::new();
    }
    let partitions = batch.column_by_name("kafka_partition").unwrap().as_primitive::<Int32Type>().clone();
    let offsets = batch.column_by_name("kafka_offset").unwrap().as_primitive::<Int64Type>().clone();
    partitions.values().iter().copied().zip(offsets.values().iter().copied()).collect()
}

/// Silver and quarantine together hold each bronze row exactly once.
fn assert_silver_holds_bronze_once(lake: &Lake) {
    let bronze: BTreeSet<(i32, i64)> = read_bronze(&lake.table(BRONZE)).iter().map(|r| (r.partition, r.offset)).collect();
    let mut checked = coordinates(&lake.table(SILVER));
    checked.extend(coordinates(&lake.table(QUARANTINE)));
    let unique: BTreeSet<(i32, i64)> = checked.iter().copied().collect();
    assert_eq!(checked.len(), unique.len(), "{} rows of silver and quarantine are duplicates", checked.len() - unique.len());
    assert_eq!(unique, bronze, "silver + quarantine hold exactly the bronze rows");
}

#[test]
fn the_same_lake_under_three_spellings_resumes_without_duplicates() {
    let (topic, lake) = (unique_topic("edges-spelling"), Lake::new());
    let parent = lake.path().parent().unwrap().to_path_buf();
    let relative = lake.path().file_name().unwrap().to_string_lossy().into_owned();
    let spellings = [relative, lake.root(), format!("file://{}", lake.root())];
    for (round, spelling) in spellings.iter().enumerate() {
        produce(&topic, 300, round as u64 + 1);
        assert_success(&run_caught_up(&topic, spelling, &parent), &format!("run with --lake {spelling}"));
    }
    assert_eq!(read_bronze(&lake.table(BRONZE)).len(), 900);
    assert_silver_holds_bronze_once(&lake);
    let app_id = format!("silver:{}", table_id(&lake.table(BRONZE)));
    assert!(txn_version(&lake.table(SILVER), &app_id).is_some(), "silver's position is keyed by bronze's table id");
    let current = read_table(&lake.table("silver/purchase_order_items_current"));
    assert!(current.num_rows() > 0, "gold followed");
    assert_eq!(
        txn_version(&lake.table("silver/purchase_order_items_current"), &format!("current:{}", table_id(&lake.table(SILVER)))),
        Some(read_version(&lake.table(SILVER))),
        "the current state is keyed by silver's table id and reflects its last version"
    );
}

fn read_version(location: &str) -> i64 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = deltalake::table::builder::ensure_table_uri(location).unwrap();
    runtime.block_on(deltalake::open_table(url)).unwrap().version().unwrap() as i64
}

/// Bronze's whole table checked by `rules` as silver checks it, at `run`'s time; with the last
/// bronze version and the schemas.
async fn check_all_of_bronze(
    lake: &Lake,
    rules: &medallion::rules::RuleSet,
    run: &medallion::rules::RunInfo,
) -> (medallion::silver::Refined, u64, medallion::silver::SilverSchemas, String) {
    use medallion::silver::{BronzeSource, SilverSchemas, refine};
    let config = medallion::config::Config::default();
    let decoder = medallion::bronze::DecoderFactory::from_config(&config).decoder().unwrap();
    let schemas = SilverSchemas::from_bronze(&medallion::bronze::BronzeBatchBuilder::new(decoder).unwrap().schema()).unwrap();
    let engine = std::sync::Arc::new(rules.compile(schemas.input.clone()).unwrap());
    let mut source = BronzeSource::open(&lake.table(BRONZE), HashMap::new(), schemas.read.clone()).await.unwrap().unwrap();
    let last = source.latest_version().await.unwrap();
    let slice = source.read(None, last, None).await.unwrap();
    let refined =
        refine(&engine, &schemas, &slice.batch, config.silver.mode, config.silver.quality_threshold, run, slice.first_version..=slice.last_version)
            .unwrap();
    (refined, last, schemas, source.table_id().unwrap())
}

fn run_info(run_id: &str, run_time_micros: i64, rules: &medallion::rules::RuleSet) -> medallion::rules::RunInfo {
    medallion::rules::RunInfo { run_time_micros, run_id: run_id.to_owned(), rule_set_fingerprint: rules.fingerprint.clone() }
}

/// Commits one silver batch the way medallion did before positions were keyed by table id:
/// quarantine, metrics and silver with `txn` `silver:<bronze path as typed>`.
async fn commit_batch_with_path_key(lake: &Lake, bronze_spelling: &str) -> u64 {
    let rules = medallion::rules::RuleSet::parse("built-in", medallion::silver::BUILT_IN_RULES).unwrap();
    let (refined, last, schemas, _) =
        check_all_of_bronze(lake, &rules, &run_info("before-table-ids", chrono::Utc::now().timestamp_micros(), &rules)).await;
    let txn = [(format!("silver:{bronze_spelling}"), last as i64)];
    let silver = refined.silver.to_batch().unwrap();
    let tables = [
        (QUARANTINE, schemas.quarantine.clone(), &refined.quarantine),
        (METRICS, medallion::silver::metrics_schema(), &refined.metrics),
        (SILVER, schemas.silver.clone(), &silver),
    ];
    for (table, schema, batch) in tables {
        let mut table = medallion::table::StageTable::open_or_create(&lake.table(table), HashMap::new(), schema, &[]).await.unwrap();
        table.append(std::slice::from_ref(batch), &txn).await.unwrap();
    }
    last
}

/// Rows are "in the future" when checked as of 2020, not when checked now.
const CLOCK_RULES: &str =
    "- criticality: error\n  name: not_in_future\n  check: {function: is_not_in_future, arguments: {column: event_time, offset: 0}}\n";

/// Does what a silver run checking bronze as of 2020 leaves when killed after its quarantine and
/// metrics commits: every table committed through the stage's own code, then silver's commit
/// taken back (its log entry removed, as if it never happened).
async fn half_commit_as_of_2020(lake: &Lake, rules_path: &std::path::Path) -> i64 {
    use medallion::silver::{BatchRecord, Positions, SilverTables, metrics_schema};
    use medallion::table::SourceKey;
    let rules = medallion::rules::RuleSet::load(rules_path.to_str().unwrap()).unwrap();
    let in_2020 = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z").unwrap().timestamp_micros();
    let run = run_info("the-run-that-crashed", in_2020, &rules);
    let (refined, last, schemas, bronze_id) = check_all_of_bronze(lake, &rules, &run).await;
    assert!(refined.silver.num_rows() == 0 && refined.quarantine.num_rows() > 0, "as of 2020 every row is in the future");
    let locations = [lake.table(SILVER), lake.table(QUARANTINE), lake.table(METRICS)];
    let schemas = [schemas.silver.clone(), schemas.quarantine.clone(), metrics_schema()];
    let key = SourceKey::silver(bronze_id, &lake.table(BRONZE), BRONZE);
    let mut tables = SilverTables::open([&locations[0], &locations[1], &locations[2]], HashMap::new(), schemas, key).await.unwrap();
    let record =
        BatchRecord { run_id: run.run_id.clone(), run_time_micros: in_2020, rule_set_fingerprint: rules.fingerprint.clone(), mode: "split".into() };
    let report = tables.commit(&refined, last, &record, &mut Positions::default()).await.unwrap();
    std::fs::remove_file(std::path::Path::new(&locations[0]).join(format!("_delta_log/{:020}.json", report.silver_version))).unwrap();
    in_2020
}

#[test]
fn a_half_committed_batch_is_finished_as_it_was_begun() {
    let (topic, lake) = (unique_topic("edges-repair"), Lake::new());
    produce(&topic, 400, 10);
    run_ok(&["bronze", "--until-caught-up", "--topic", &topic, "--group", &unique_topic("g"), "--lake", &lake.root()]);
    let rules = lake.path().join("clock.yml");
    std::fs::write(&rules, CLOCK_RULES).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let in_2020 = runtime.block_on(half_commit_as_of_2020(&lake, &rules));
    let quarantined = read_table(&lake.table(QUARANTINE)).num_rows();

    // Other rules cannot finish it: the rows already committed were checked by the first ones.
    let output = medallion().args(["silver", "--until-caught-up", "--lake", &lake.root()]).output_within();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("was half-committed by rules") && stderr.contains("Run silver once with the rules and mode it began with"), "{stderr}");

    // The same rules finish it as of 2020, as it began: no row in both tables.
    let output = medallion().args(["silver", "--until-caught-up", "--lake", &lake.root(), "--rules", rules.to_str().unwrap()]).output_within();
    assert_success(&output, "silver finishing the batch");
    assert_eq!(read_table(&lake.table(QUARANTINE)).num_rows(), quarantined, "quarantine is not committed again");
    assert_eq!(coordinates(&lake.table(SILVER)).len(), 0, "rows quarantined as of 2020 are not also in silver");
    let log = std::fs::read_dir(lake.table(&format!("{SILVER}/_delta_log"))).unwrap();
    let recorded = log.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".json")).any(|e| {
        let entry = std::fs::read_to_string(e.path()).unwrap();
        entry.contains("the-run-that-crashed") && entry.contains(&format!("\"run_time_micros\":{in_2020}"))
    });
    assert!(recorded, "silver's commit records the first run's id and time");
}

#[test]
fn positions_keyed_by_the_lake_path_are_adopted_once() {
    let (topic, lake) = (unique_topic("edges-legacy"), Lake::new());
    produce(&topic, 400, 3);
    run_ok(&["bronze", "--until-caught-up", "--topic", &topic, "--group", &unique_topic("g"), "--lake", &lake.root()]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // The earlier version, run with the lake spelled `./<dir>` from its parent.
    let legacy_spelling = format!("./{}/{BRONZE}", lake.path().file_name().unwrap().to_string_lossy());
    let first_batch_end = runtime.block_on(commit_batch_with_path_key(&lake, &legacy_spelling));
    produce(&topic, 200, 4);
    // The upgrade, with the lake spelled as a file URL.
    assert_success(&run_caught_up(&topic, &format!("file://{}", lake.root()), lake.path()), "run after the upgrade");
    assert_eq!(read_bronze(&lake.table(BRONZE)).len(), 600);
    assert_silver_holds_bronze_once(&lake);
    let app_id = format!("silver:{}", table_id(&lake.table(BRONZE)));
    let position = txn_version(&lake.table(SILVER), &app_id).unwrap();
    assert!(position > first_batch_end as i64, "silver went on under the table id: {position} after {first_batch_end}");
}

#[test]
fn silver_refuses_a_bronze_recreated_under_it() {
    let (topic, lake) = (unique_topic("edges-recreated"), Lake::new());
    produce(&topic, 300, 5);
    assert_success(&run_caught_up(&topic, &lake.root(), lake.path()), "first run");
    let silver_rows = read_table(&lake.table(SILVER)).num_rows();
    std::fs::rename(lake.table(BRONZE), lake.path().join("bronze-old")).unwrap();
    // A new bronze table at the same path: every message again, under a new table id.
    run_ok(&["bronze", "--until-caught-up", "--topic", &topic, "--group", &unique_topic("g"), "--lake", &lake.root()]);
    let output = medallion().args(["silver", "--until-caught-up", "--lake", &lake.root()]).output_within();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in ["has no position in its source", &lake.table(BRONZE), "positions of silver:", "move the table"] {
        assert!(stderr.contains(expected), "{expected:?} missing from: {stderr}");
    }
    assert_eq!(read_table(&lake.table(SILVER)).num_rows(), silver_rows, "nothing appended to silver");
}

/// Deletes `topic` and creates it again with `partitions` partitions (what an operator or a
/// Geo-DR failover does to the offsets bronze recorded).
fn recreate_topic(topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new().set("bootstrap.servers", common::bootstrap()).create().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let deleted = runtime.block_on(admin.delete_topics(&[topic], &options)).unwrap();
    assert!(deleted.iter().all(Result::is_ok), "delete {topic}: {deleted:?}");
    assert!(common::wait_until(Duration::from_secs(20), || common::message_count(topic) == 0), "{topic} still has messages");
    let created = runtime.block_on(admin.create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &options)).unwrap();
    assert!(created.iter().all(Result::is_ok), "create {topic}: {created:?}");
}

#[test]
fn a_recreated_topic_stops_bronze_and_accepting_takes_the_new_messages_once() {
    let (topic, lake) = (unique_topic("edges-topic"), Lake::new());
    produce(&topic, 4000, 6);
    run_ok(&["bronze", "--until-caught-up", "--topic", &topic, "--group", &unique_topic("g"), "--lake", &lake.root()]);
    recreate_topic(&topic, 8);
    produce(&topic, 1000, 7);
    let bronze = || {
        let mut command = medallion();
        command.args(["bronze", "--until-caught-up", "--topic", &topic, "--group", &unique_topic("g"), "--lake", &lake.root()]);
        command
    };
    let output = bronze().output_within();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [topic.as_str(), "does not continue the bronze table", "the broker's next offset for it is", "bronze.on_offset_reset: accept"] {
        assert!(stderr.contains(expected), "{expected:?} missing from: {stderr}");
    }
    assert_eq!(read_bronze(&lake.table(BRONZE)).len(), 4000, "nothing written");

    let output = bronze().env("MEDALLION_BRONZE__ON_OFFSET_RESET", "accept").output_within();
    assert_success(&output, "bronze accepting the reset");
    let rows = read_bronze(&lake.table(BRONZE));
    assert_eq!(rows.len(), 5000, "the 1,000 new messages land once");
    let new_payloads: BTreeSet<Vec<u8>> =
        common::consume_all(&topic, 1000, Duration::from_secs(60)).iter().map(|m| rdkafka::Message::payload(m).unwrap().to_vec()).collect();
    let landed = rows.iter().filter(|r| new_payloads.contains(&r.raw_payload)).count();
    assert_eq!(landed, 1000, "every new message is in bronze exactly once");
    let log = std::fs::read_dir(lake.table(&format!("{BRONZE}/_delta_log"))).unwrap();
    let recorded = log
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .any(|e| std::fs::read_to_string(e.path()).unwrap().contains("medallion.acceptedOffsetResets"));
    assert!(recorded, "the accepted reset is recorded in a commit");
    // And the next run resumes from the new positions: nothing more.
    run_ok(&["bronze", "--until-caught-up", "--topic", &topic, "--group", &unique_topic("g"), "--lake", &lake.root()]);
    assert_eq!(read_bronze(&lake.table(BRONZE)).len(), 5000);
}

/// What a DELETE by another engine (Python `deltalake`, Spark) commits: a data file removed and
/// rewritten without some of its rows, with `dataChange = true`.
async fn delete_first_row_of_a_file(location: &str) -> u64 {
    use deltalake::kernel::Action;
    use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
    use deltalake::protocol::DeltaOperation;
    let url = deltalake::table::builder::ensure_table_uri(location).unwrap();
    let table = deltalake::open_table(url).await.unwrap();
    let snapshot = table.snapshot().unwrap();
    let file = snapshot.log_data().into_iter().next().unwrap();
    let remove = file.remove_action(true);
    let path = std::path::Path::new(location).join(file.path().to_string());
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let kept = all.slice(1, all.num_rows() - 1);
    let mut writer = deltalake::writer::RecordBatchWriter::for_table(&table).unwrap();
    deltalake::writer::DeltaWriter::write(&mut writer, with_partition_column(&kept)).await.unwrap();
    let adds = deltalake::writer::DeltaWriter::flush(&mut writer).await.unwrap();
    let mut actions: Vec<Action> = adds.into_iter().map(Action::Add).collect();
    actions.push(Action::Remove(remove));
    let operation = DeltaOperation::Delete { predicate: Some("first row of a file".to_owned()) };
    let finalized =
        CommitBuilder::from(CommitProperties::default()).with_actions(actions).build(Some(snapshot), table.log_store(), operation).await.unwrap();
    finalized.version()
}

/// The partition column lives in the log, not in the file: put it back for the writer (bronze's
/// rows of this test were all ingested today).
fn with_partition_column(kept: &RecordBatch) -> RecordBatch {
    let mut fields: Vec<arrow::datatypes::FieldRef> = kept.schema().fields().iter().cloned().collect();
    let mut columns = kept.columns().to_vec();
    if kept.column_by_name("ingestion_date").is_none() {
        let today = chrono::Utc::now().date_naive().signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32;
        fields.push(std::sync::Arc::new(arrow::datatypes::Field::new("ingestion_date", arrow::datatypes::DataType::Date32, true)));
        columns.push(std::sync::Arc::new(arrow::array::Date32Array::from(vec![today; kept.num_rows()])));
    }
    RecordBatch::try_new(std::sync::Arc::new(arrow::datatypes::Schema::new(fields)), columns).unwrap()
}

#[test]
fn a_delete_on_bronze_stops_silver_naming_the_version_until_it_is_skipped() {
    let (topic, lake) = (unique_topic("edges-delete"), Lake::new());
    produce(&topic, 500, 8);
    assert_success(&run_caught_up(&topic, &lake.root(), lake.path()), "first run");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let version = runtime.block_on(delete_first_row_of_a_file(&lake.table(BRONZE)));
    let before = coordinates(&lake.table(SILVER)).len() + coordinates(&lake.table(QUARANTINE)).len();
    let silver = || {
        let mut command = medallion();
        command.args(["silver", "--until-caught-up", "--lake", &lake.root()]);
        command
    };
    let output = silver().output_within();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in
        [format!("version {version} of the Delta table at {}", lake.table(BRONZE)), "(DELETE)".to_owned(), "silver.skip_bronze_versions".to_owned()]
    {
        assert!(stderr.contains(&expected), "{expected:?} missing from: {stderr}");
    }
    let after = coordinates(&lake.table(SILVER)).len() + coordinates(&lake.table(QUARANTINE)).len();
    assert_eq!(after, before, "no row read again");

    let output = silver().env("MEDALLION_SILVER__SKIP_BRONZE_VERSIONS", format!("[{version}]")).output_within();
    assert_success(&output, "silver skipping the DELETE");
    let after = coordinates(&lake.table(SILVER)).len() + coordinates(&lake.table(QUARANTINE)).len();
    assert_eq!(after, before, "the rewritten file is not read again");
    produce(&topic, 100, 9);
    assert_success(&run_caught_up(&topic, &lake.root(), lake.path()), "run after the DELETE");
    let checked = coordinates(&lake.table(SILVER)).len() + coordinates(&lake.table(QUARANTINE)).len();
    assert_eq!(checked, before + 100, "appends after the DELETE are read as before");
}

const ALL_TABLES: [&str; 8] = [
    BRONZE,
    SILVER,
    QUARANTINE,
    METRICS,
    "silver/purchase_order_items_current",
    "gold/order_status",
    "gold/product_sales_monthly",
    "gold/quality_daily",
];

/// Checkpoints of every table, with its map, list-of-struct and decimal columns, replace the log
/// entries before them (as log retention does): the tables read back the same and the pipeline
/// resumes from the positions the checkpoints carry.
#[test]
fn checkpoints_of_every_table_read_back_and_resume() {
    let (topic, lake) = (unique_topic("edges-checkpoint"), Lake::new());
    produce(&topic, 800, 11);
    assert_success(&run_caught_up(&topic, &lake.root(), lake.path()), "first run");
    let before: Vec<usize> = ALL_TABLES.iter().map(|t| read_table(&lake.table(t)).num_rows()).collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for table in ALL_TABLES {
        let location = lake.table(table);
        let version = runtime.block_on(async {
            let table = deltalake::open_table(deltalake::table::builder::ensure_table_uri(&location).unwrap()).await.unwrap();
            deltalake::checkpoints::create_checkpoint(&table, None).await.unwrap();
            table.version().unwrap()
        });
        for old in 0..version {
            std::fs::remove_file(std::path::Path::new(&location).join(format!("_delta_log/{old:020}.json"))).unwrap();
        }
    }
    let after: Vec<usize> = ALL_TABLES.iter().map(|t| read_table(&lake.table(t)).num_rows()).collect();
    assert_eq!(after, before, "every table reads back from its checkpoint");
    produce(&topic, 300, 12);
    assert_success(&run_caught_up(&topic, &lake.root(), lake.path()), "run after the checkpoints");
    assert_eq!(read_bronze(&lake.table(BRONZE)).len(), 1100);
    assert_silver_holds_bronze_once(&lake);
}
