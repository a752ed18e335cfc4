//! The `medallion` command. Exit codes: 0 success, 1 runtime failure, 2 invalid input.

mod cli;

/// jemalloc instead of the system allocator: glibc's malloc fragments under the small, short-lived
/// allocations of Delta log replay and Arrow batches on many threads, and a process that runs for
/// months then slows down and grows (see `Cargo.toml`). Its settings are built in
/// (`.cargo/config.toml`).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::Parser;
use figment::providers::Serialized;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use cli::{Cli, Command, ConfigCommand, ExportCommand, FlagLayer, RulesCommand};
use medallion::bronze::DecoderFactory;
use medallion::config::Config;
use medallion::produce;
use medallion::rules::RuleSet;
use medallion::runtime::{each_stream, signals};
use medallion::telemetry::LogFormat;

/// A failure and the exit code it maps to.
enum Failure {
    /// Bad configuration, rules or arguments: exit 2.
    Invalid(anyhow::Error),
    /// Anything that went wrong while running: exit 1.
    Runtime(anyhow::Error),
    /// `status --check` found breaches (already printed): their exit code.
    Unhealthy(u8),
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::Runtime(error.into())
    }
}

impl Failure {
    /// `error`, as invalid input when `invalid` (the error type's own answer) else as a failure
    /// of the run.
    fn of(error: impl Into<anyhow::Error>, invalid: bool) -> Self {
        if invalid { Failure::Invalid(error.into()) } else { Failure::Runtime(error.into()) }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // status and report say when the brokers are unreachable, once: not librdkafka's retry log.
    medallion::telemetry::init_logging(&cli.log, matches!(cli.command, Command::Status(_) | Command::Report(_)), cli.log_format);
    let json_logs = cli.log_format == LogFormat::Json;
    let outcome =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Failure::from).and_then(|runtime| runtime.block_on(run(cli)));
    let (error, code) = match outcome {
        Ok(()) => return ExitCode::SUCCESS,
        Err(Failure::Invalid(error)) => (error, 2),
        Err(Failure::Runtime(error)) => (error, 1),
        Err(Failure::Unhealthy(code)) => return ExitCode::from(code),
    };
    // With JSON logs, stderr holds JSON lines only.
    if json_logs {
        tracing::error!(exit_code = code, "{}", error_text(&error));
    } else {
        eprintln!("error: {}", error_text(&error));
    }
    ExitCode::from(code)
}

/// The error and its causes on one line. Most of our errors already quote their cause (so that
/// a log line carries it too); a cause whose text is already there is not repeated.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Config(ConfigCommand::Check { file }) => check_config(file, &cli),
        Command::Produce(_) => run_producer(&cli).await,
        Command::Bronze(args) => run_bronze(&cli, args.until_caught_up).await,
        Command::Silver(args) => run_silver(&cli, args.until_caught_up).await,
        Command::Gold(args) => run_gold(&cli, args.watch).await,
        Command::Run(args) => run_pipeline(&cli, args.until_caught_up).await,
        Command::Status(args) => show_status(&cli, args.check).await,
        Command::Report(args) => show_report(&cli, args.html.as_deref()).await,
        Command::Export(ExportCommand::Postgres { .. }) => export_postgres(&cli).await,
        Command::Maintain(args) => maintain(&cli, args.table.as_deref(), args.dry_run).await,
        Command::Rules(RulesCommand::Check { file, input }) => check_rules(file, input.as_deref(), &cli),
        Command::Rules(RulesCommand::Apply { rules, input, output, run_id, run_time }) => {
            apply_rules(rules, input, output, run_id.clone(), *run_time, &cli)
        }
    }
}

fn load_rules(file: &Path) -> Result<RuleSet, Failure> {
    RuleSet::load(&file.display().to_string()).map_err(|e| {
        let invalid = e.is_invalid_input();
        Failure::of(e, invalid)
    })
}

/// Validates a rules file against a Parquet file's schema, or the bronze table's by default.
fn check_rules(file: &Path, input: Option<&Path>, cli: &Cli) -> Result<(), Failure> {
    let rules = load_rules(file)?;
    let schema = match input {
        Some(path) => {
            let reader = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display())).map_err(Failure::Invalid)?;
            let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(reader)
                .with_context(|| format!("{} is not a Parquet file", path.display()))
                .map_err(Failure::Invalid)?;
            builder.schema().clone()
        }
        None => {
            let config = load_config(cli.config.as_deref(), cli)?;
            let stream = match cli.stream.as_deref() {
                None => config.stream(),
                // `purchase-orders` is still accepted for `purchase_orders`.
                Some(name) => config
                    .stream_or_built_in(name)
                    .or_else(|| produce::StreamKind::from_flag(Some(name)).ok().and_then(|kind| config.stream_or_built_in(kind.name())))
                    .ok_or_else(|| {
                        let mut known = config.stream_names();
                        for built_in in medallion::config::BUILT_IN_STREAMS {
                            if !known.iter().any(|name| name == built_in) {
                                known.push(built_in.to_owned());
                            }
                        }
                        Failure::Invalid(anyhow!("--stream {name}: no such stream; the configured and built-in streams are {}", known.join(", ")))
                    })?,
            };
            DecoderFactory::from_config(&config).for_record(&stream.record).bronze_schema().map_err(|e| Failure::Runtime(e.into()))?
        }
    };
    rules.compile(schema).map_err(|e| Failure::Invalid(e.into()))?;
    if cli.json {
        println!("{}", serde_json::json!({ "valid": true, "file": file, "rules": rules.rules.len(), "rule_set_fingerprint": rules.fingerprint }));
    } else {
        println!("{}: {} rules, valid (rule set fingerprint {})", file.display(), rules.rules.len(), rules.fingerprint);
    }
    Ok(())
}

fn apply_rules(
    rules: &Path,
    input: &Path,
    output: &Path,
    run_id: Option<String>,
    run_time: Option<chrono::DateTime<chrono::Utc>>,
    cli: &Cli,
) -> Result<(), Failure> {
    let rules = load_rules(rules)?;
    let run_id = run_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let run_time = run_time.unwrap_or_else(chrono::Utc::now);
    let summary =
        medallion::rules::file::apply_file(&rules, &input.display().to_string(), &output.display().to_string(), run_id, run_time).map_err(|e| {
            let invalid = e.is_invalid_input();
            Failure::of(e, invalid)
        })?;
    if cli.json {
        println!("{}", serde_json::to_string(&summary).map_err(|e| Failure::Runtime(e.into()))?);
    } else {
        println!(
            "{} rows in {:.2}s: {} with errors, {} with warnings, {} clean -> {}",
            summary.rows,
            summary.seconds,
            summary.with_errors,
            summary.with_warnings,
            summary.clean,
            output.display()
        );
    }
    Ok(())
}

/// The configuration of `file`, environment and flags; with `--stream NAME` (except for
/// `produce` and `rules`, which take a built-in stream), for that stream alone.
fn load_config(file: Option<&Path>, cli: &Cli) -> Result<Config, Failure> {
    let config = Config::load(file, Serialized::defaults(FlagLayer::new(cli))).map_err(|e| Failure::Invalid(e.into()))?;
    let rules = match &cli.command {
        Command::Silver(args) => args.silver.rules.clone(),
        Command::Run(args) => args.silver.rules.clone(),
        _ => None,
    };
    let selects = !matches!(cli.command, Command::Produce(_) | Command::Rules(_) | Command::Config(_));
    let mut config = match cli.stream.as_deref().filter(|_| selects) {
        None => config,
        Some(name) => match config.stream_named(name) {
            Some(stream) => config.for_stream(&stream),
            None => {
                return Err(Failure::Invalid(anyhow!(
                    "--stream {name}: no such stream; the configured streams are {}",
                    config.stream_names().join(", ")
                )));
            }
        },
    };
    if let Some(rules) = rules {
        match config.streams.as_mut_slice() {
            [] => {}
            [stream] => stream.rules = Some(rules),
            _ => {
                return Err(Failure::Invalid(anyhow!("--rules applies to one stream: name it with --stream ({})", config.stream_names().join(", "))));
            }
        }
    }
    Ok(config)
}

fn check_config(file: &Path, cli: &Cli) -> Result<(), Failure> {
    let config = load_config(Some(file), cli)?;
    if cli.json {
        let json = serde_json::json!({ "valid": true, "file": file, "config": config });
        println!("{json}");
    } else {
        eprintln!("{}: valid", file.display());
        print!("{}", config.to_masked_yaml());
    }
    Ok(())
}

async fn run_producer(cli: &Cli) -> Result<(), Failure> {
    let (config, cancel) = start_long_running(cli)?;
    if !matches!(cli.command, Command::Produce(_)) {
        return Err(Failure::Invalid(anyhow!("not a produce command")));
    }
    let stream = produce::StreamKind::from_flag(cli.stream.as_deref()).map_err(|e| Failure::Invalid(anyhow!(e)))?;
    let (config_sender, config_updates) = watch::channel(std::sync::Arc::new(config.clone()));
    reload_config_on_sighup(cli, config_sender)?;
    let summary = produce::run(&config, stream, cancel, config_updates).await.map_err(|e| Failure::Runtime(e.into()))?;
    print_summary(cli, &summary)?;
    if summary.failed > 0 {
        return Err(Failure::Runtime(anyhow!(
            "{} events failed delivery; first error: {}",
            summary.failed,
            summary.first_error.as_deref().unwrap_or("unknown")
        )));
    }
    if summary.stop_reason == produce::StopReason::SinkClosed {
        return Err(Failure::Runtime(anyhow!("the output stopped accepting events")));
    }
    Ok(())
}

async fn run_bronze(cli: &Cli, until_caught_up: bool) -> Result<(), Failure> {
    let (config, cancel) = start_long_running(cli)?;
    let outcomes = each_stream(&config, |view| {
        let cancel = cancel.clone();
        async move { medallion::bronze::run(&view, until_caught_up, cancel).await }
    })
    .await;
    let summaries = per_stream(outcomes, |_| false)?;
    print_summaries(cli, &summaries)
}

async fn run_silver(cli: &Cli, until_caught_up: bool) -> Result<(), Failure> {
    let (config, cancel) = start_long_running(cli)?;
    let outcomes = each_stream(&config, |view| {
        let cancel = cancel.clone();
        async move { medallion::silver::run(&view, until_caught_up, cancel).await }
    })
    .await;
    let summaries = per_stream(outcomes, medallion::silver::SilverError::is_invalid_input)?;
    print_summaries(cli, &summaries)
}

async fn run_gold(cli: &Cli, watch: bool) -> Result<(), Failure> {
    let (config, cancel) = start_long_running(cli)?;
    medallion::gold::model::check_tables_distinct(&config.streams()).map_err(|e| Failure::Invalid(e.into()))?;
    medallion::gold::dimensions::write(&config).await.map_err(|e| Failure::Runtime(e.into()))?;
    let outcomes = each_stream(&config, |view| {
        let cancel = cancel.clone();
        async move { medallion::gold::run(&view, watch, cancel).await }
    })
    .await;
    let summaries = per_stream(outcomes, |_| false)?;
    print_summaries(cli, &summaries)
}

/// Each stream's summary, or the first stream's failure (named), invalid input when `invalid`.
fn per_stream<S, E: std::error::Error + Send + Sync + 'static>(
    outcomes: Vec<(String, Result<S, E>)>,
    invalid: impl Fn(&E) -> bool,
) -> Result<Vec<(String, S)>, Failure> {
    let several = outcomes.len() > 1;
    outcomes
        .into_iter()
        .map(|(stream, outcome)| match outcome {
            Ok(summary) => Ok((stream, summary)),
            Err(error) => {
                let invalid = invalid(&error);
                let error = anyhow::Error::new(error);
                Err(Failure::of(if several { error.context(format!("stream {stream}")) } else { error }, invalid))
            }
        })
        .collect()
}

/// One stream's summary as [`print_summary`] prints it; several as `{"streams": [{"stream":
/// NAME, "summary": ...}]}` with `--json`, else one line each.
fn print_summaries<S: serde::Serialize + std::fmt::Display>(cli: &Cli, summaries: &[(String, S)]) -> Result<(), Failure> {
    if let [(_, summary)] = summaries {
        return print_summary(cli, summary);
    }
    if cli.json {
        let streams: Vec<_> = summaries.iter().map(|(stream, summary)| serde_json::json!({ "stream": stream, "summary": summary })).collect();
        println!("{}", serde_json::json!({ "streams": streams }));
    } else {
        for (stream, summary) in summaries {
            eprintln!("{stream}: {summary}");
        }
    }
    Ok(())
}

async fn run_pipeline(cli: &Cli, until_caught_up: bool) -> Result<(), Failure> {
    let (config, cancel) = start_long_running(cli)?;
    let summary = medallion::runtime::pipeline::run(&config, until_caught_up, cancel).await.map_err(|e| {
        let invalid = e.is_invalid_input();
        Failure::of(e, invalid)
    })?;
    print_summary(cli, &summary)
}

async fn show_status(cli: &Cli, check: bool) -> Result<(), Failure> {
    let config = load_config(cli.config.as_deref(), cli)?;
    let status = medallion::lake::status::collect(&config).await;
    let health = if check { Some(medallion::lake::health::check(&config, &status).await) } else { None };
    if cli.json {
        let mut value = serde_json::to_value(&status).context("cannot render the status").map_err(Failure::Runtime)?;
        if let (Some(health), Some(object)) = (&health, value.as_object_mut()) {
            object.insert("health".to_owned(), serde_json::to_value(health).context("cannot render the health check").map_err(Failure::Runtime)?);
        }
        println!("{value}");
    } else {
        print!("{status}");
        if let Some(health) = &health {
            print!("{health}");
        }
    }
    match health {
        Some(health) if !health.healthy => Err(Failure::Unhealthy(health.exit_code)),
        _ => Ok(()),
    }
}

async fn show_report(cli: &Cli, html: Option<&Path>) -> Result<(), Failure> {
    let config = load_config(cli.config.as_deref(), cli)?;
    let report = medallion::lake::report::collect(&config).await.map_err(|e| Failure::Runtime(e.into()))?;
    if let Some(path) = html {
        let generated_at = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC").to_string();
        let page = medallion::lake::report::html::render(&report, &config.lake.root, &generated_at);
        std::fs::write(path, page).with_context(|| format!("cannot write the HTML report to {}", path.display())).map_err(Failure::Runtime)?;
        eprintln!("report written to {}", path.display());
    }
    if cli.json {
        println!("{}", serde_json::to_string(&report).context("cannot render the report").map_err(Failure::Runtime)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

async fn export_postgres(cli: &Cli) -> Result<(), Failure> {
    let config = load_config(cli.config.as_deref(), cli)?;
    let Some(target) = &config.export.postgres else {
        return Err(Failure::Invalid(anyhow!("no PostgreSQL to export to: give --url, MEDALLION_EXPORT__POSTGRES__URL or export.postgres.url")));
    };
    let summary = medallion::lake::export::export(&config, target).await.map_err(|e| Failure::Runtime(e.into()))?;
    if cli.json {
        println!("{}", serde_json::to_string(&summary).context("cannot render the summary").map_err(Failure::Runtime)?);
    } else {
        println!("{summary}");
    }
    Ok(())
}

async fn maintain(cli: &Cli, table: Option<&str>, dry_run: bool) -> Result<(), Failure> {
    let config = load_config(cli.config.as_deref(), cli)?;
    let mut gold_tables = Vec::new();
    for stream in config.streams() {
        let models = medallion::gold::model::load(&stream.gold_models).map_err(|e| Failure::Invalid(e.into()))?;
        gold_tables.extend(models.into_iter().map(|model| {
            let per_entity = matches!(model.upkeep, medallion::gold::Upkeep::PerEntity);
            medallion::maintain::LakeTable::unread(medallion::gold::model::table_path(&model.name), per_entity)
        }));
    }
    let reports = medallion::maintain::run(&config, gold_tables, table, dry_run).await.map_err(|e| Failure::Runtime(e.into()))?;
    print_summary(cli, &reports)
}

/// The configuration and the one shutdown token of a long-running command (signals cancel it),
/// with the metrics endpoint started when configured.
fn start_long_running(cli: &Cli) -> Result<(Config, CancellationToken), Failure> {
    let config = load_config(cli.config.as_deref(), cli)?;
    let cancel = CancellationToken::new();
    signals::cancel_on_signals(cancel.clone())?;
    serve_metrics(&config, &cancel);
    Ok((config, cancel))
}

/// Starts the Prometheus endpoint when `metrics_addr` is set; a port in use is logged, not fatal.
fn serve_metrics(config: &Config, cancel: &CancellationToken) {
    if let Some(addr) = config.metrics_addr {
        let (config, cancel) = (config.clone(), cancel.clone());
        tokio::spawn(async move {
            if let Err(error) = medallion::runtime::serve::serve(addr, config, cancel).await {
                tracing::error!(%addr, %error, "cannot serve metrics");
            }
        });
    }
}

/// The end-of-run summary: one JSON object on stdout with `--json`, else its text on stderr.
fn print_summary(cli: &Cli, summary: &(impl serde::Serialize + std::fmt::Display)) -> Result<(), Failure> {
    if cli.json {
        let json = serde_json::to_string(summary).context("cannot render the summary").map_err(Failure::Runtime)?;
        println!("{json}");
    } else if cli.log_format == LogFormat::Json {
        tracing::info!(summary = %summary, "finished");
    } else {
        eprintln!("{summary}");
    }
    Ok(())
}

/// On SIGHUP, re-reads the configuration (file, environment, flags) and publishes it when it is
/// valid (the producer applies its rate and generator settings); an invalid one is logged with
/// its problems and the current one stays.
fn reload_config_on_sighup(cli: &Cli, config_sender: watch::Sender<std::sync::Arc<Config>>) -> Result<(), Failure> {
    let file = cli.config.clone();
    let flags = FlagLayer::new(cli);
    signals::on_hangup(move || match Config::load(file.as_deref(), Serialized::defaults(&flags)) {
        Ok(config) => {
            tracing::info!(rate = config.producer.rate, "SIGHUP: configuration reloaded");
            let _ = config_sender.send(std::sync::Arc::new(config));
        }
        Err(error) => tracing::error!(%error, "SIGHUP: configuration not reloaded, keeping the current one"),
    })?;
    Ok(())
}
