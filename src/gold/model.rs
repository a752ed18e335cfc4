//! Gold models: one SQL file per gold table, over the stream's current state (`current_state`),
//! with a header of `-- key: value` comments saying how a refresh keeps the table up to date.
//! `gold/README.md` documents the format; the built-in streams' models are in `gold/<stream>/`.
//!
//! ```sql
//! -- Day × merchant: payments and declines.
//! -- upkeep: additive
//! -- groups: day, merchant_id
//! -- count: payments
//! -- ratios: decline_rate = declined / payments
//! SELECT ...
//! ```

use std::path::Path;

use super::GoldError;
use super::additive::{Additive, Ratio};
use super::aggregate::{Aggregate, Upkeep};
use crate::config::GoldModels;

/// The models built into medallion, per built-in stream: (file name, SQL).
const BUILT_IN: [(&str, &[(&str, &str)]); 6] = [
    (
        crate::config::PURCHASE_ORDERS,
        &[
            ("most_sold_product_last_month.sql", include_str!("../../gold/purchase_orders/most_sold_product_last_month.sql")),
            ("order_details.sql", include_str!("../../gold/purchase_orders/order_details.sql")),
            ("order_status.sql", include_str!("../../gold/purchase_orders/order_status.sql")),
            ("product_deliveries_daily.sql", include_str!("../../gold/purchase_orders/product_deliveries_daily.sql")),
            ("product_sales_monthly.sql", include_str!("../../gold/purchase_orders/product_sales_monthly.sql")),
            ("vendor_spend_quarterly.sql", include_str!("../../gold/purchase_orders/vendor_spend_quarterly.sql")),
        ],
    ),
    (
        crate::config::PAYMENTS,
        &[
            ("payments_daily.sql", include_str!("../../gold/payments/payments_daily.sql")),
            ("payments_merchant_daily.sql", include_str!("../../gold/payments/payments_merchant_daily.sql")),
        ],
    ),
    (crate::config::POS, &[("fact_sales.sql", include_str!("../../gold/pos/fact_sales.sql"))]),
    (crate::config::CLICKSTREAM, &[("fact_cart_abandonment.sql", include_str!("../../gold/clickstream/fact_cart_abandonment.sql"))]),
    (crate::config::ECOMMERCE, &[("fact_sales_ecommerce.sql", include_str!("../../gold/ecommerce/fact_sales_ecommerce.sql"))]),
    (
        crate::config::INVENTORY,
        &[
            ("fact_inventory.sql", include_str!("../../gold/inventory/fact_inventory.sql")),
            ("fact_inventory_snapshot.sql", include_str!("../../gold/inventory/fact_inventory_snapshot.sql")),
        ],
    ),
];

/// The gold tables of a stream's models live at `gold/<model name>` under the lake root.
pub fn table_path(name: &str) -> String {
    format!("gold/{name}")
}

/// A stream's models, parsed, in file-name order, except that a derived model comes after the
/// models it reads.
pub fn load(models: &GoldModels) -> Result<Vec<Aggregate>, GoldError> {
    let mut loaded = load_files(models)?;
    loaded.sort_by_key(|model| matches!(model.upkeep, Upkeep::Derived { .. }));
    for model in &loaded {
        let Upkeep::Derived { from } = &model.upkeep else { continue };
        for source in from {
            let readable = loaded.iter().any(|m| &m.name == source && !matches!(m.upkeep, Upkeep::Derived { .. }));
            if !readable {
                let file = match models {
                    GoldModels::Directory(directory) => directory.join(format!("{}.sql", model.name)).display().to_string(),
                    _ => format!("built-in gold model {}.sql", model.name),
                };
                return Err(GoldError::Model {
                    file,
                    line: header_line(&model.sql, "from"),
                    message: format!(
                        "`from: {source}`: a derived model reads the stream's other models, and {source} is none of them (or is derived itself)"
                    ),
                });
            }
        }
    }
    Ok(loaded)
}

/// The line of header key `key` in `sql` (1-based), 0 when absent.
fn header_line(sql: &str, key: &str) -> usize {
    sql.lines().position(|line| line.trim().strip_prefix("--").is_some_and(|c| c.trim_start().starts_with(&format!("{key}:")))).map_or(0, |i| i + 1)
}

fn load_files(models: &GoldModels) -> Result<Vec<Aggregate>, GoldError> {
    match models {
        GoldModels::None => Ok(Vec::new()),
        GoldModels::BuiltIn(stream) => {
            let files = BUILT_IN.iter().find(|(name, _)| name == stream).map_or(&[][..], |(_, files)| files);
            files.iter().map(|(file, sql)| parse(&format!("built-in gold/{stream}/{file}"), file, sql)).collect()
        }
        GoldModels::Directory(directory) => {
            let unreadable = |e: std::io::Error| GoldError::Model { file: directory.display().to_string(), line: 0, message: e.to_string() };
            let mut files: Vec<_> = std::fs::read_dir(directory)
                .map_err(unreadable)?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|e| e == "sql"))
                .collect();
            files.sort();
            files
                .iter()
                .map(|path| {
                    let sql = std::fs::read_to_string(path).map_err(|e| GoldError::Model {
                        file: path.display().to_string(),
                        line: 0,
                        message: e.to_string(),
                    })?;
                    parse(&path.display().to_string(), &file_name(path), &sql)
                })
                .collect()
        }
    }
}

/// Refuses streams whose models (or a model and a stage table) would write the same table.
pub fn check_tables_distinct(streams: &[crate::config::Stream]) -> Result<(), GoldError> {
    let mut writers: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for name in super::dimensions::NAMES {
        writers.insert(table_path(name), "the master-data dimensions".to_owned());
    }
    for stream in streams {
        for (role, path) in stream.tables.all() {
            writers.insert(path.to_owned(), format!("the {role} table of stream {}", stream.name));
        }
    }
    for stream in streams {
        for model in load(&stream.gold_models)? {
            let table = table_path(&model.name);
            let writer = format!("model {}.sql of stream {}", model.name, stream.name);
            if let Some(first) = writers.insert(table.clone(), writer.clone()) {
                return Err(GoldError::TableTwice { table, first, second: writer });
            }
        }
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// One model from its file: the table is named after the file (`payments_daily.sql` →
/// `payments_daily`), the header says its upkeep.
pub fn parse(origin: &str, file_name: &str, sql: &str) -> Result<Aggregate, GoldError> {
    let problem = |line: usize, message: String| GoldError::Model { file: origin.to_owned(), line, message };
    let name = file_name.strip_suffix(".sql").unwrap_or(file_name);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(problem(0, format!("`{name}`: a model's file name (its table's name) must be lowercase letters, digits and _")));
    }
    let mut header: Vec<(usize, &str, &str)> = Vec::new();
    for (index, line) in sql.lines().enumerate() {
        let Some(comment) = line.trim().strip_prefix("--") else {
            if line.trim().is_empty() {
                continue;
            }
            break;
        };
        if let Some((key, value)) = comment.split_once(':')
            && matches!(key.trim(), "upkeep" | "groups" | "count" | "max" | "ratios" | "from")
        {
            header.push((index + 1, key.trim(), value.trim()));
        }
    }
    let value = |key: &str| header.iter().find(|(_, k, _)| *k == key).map(|(line, _, value)| (*line, *value));
    let list =
        |key: &str| value(key).map(|(_, v)| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default();
    let upkeep = match value("upkeep") {
        Some((_, "per-entity")) => Upkeep::PerEntity,
        Some((line, "additive")) => {
            let groups: Vec<String> = list("groups");
            let Some((_, count)) = value("count") else {
                return Err(problem(line, "an additive model needs `-- count: COLUMN` (the measure that is 0 when a group is empty)".into()));
            };
            if groups.is_empty() {
                return Err(problem(line, "an additive model needs `-- groups: COLUMN, ...`".into()));
            }
            let ratios = match value("ratios") {
                Some((line, text)) => parse_ratios(text).map_err(|message| problem(line, message))?,
                None => Vec::new(),
            };
            Upkeep::Additive(Additive { groups, count: count.to_owned(), max: list("max"), ratios })
        }
        Some((line, "derived")) => {
            let from: Vec<String> = list("from");
            if from.is_empty() {
                return Err(problem(line, "a derived model needs `-- from: MODEL, ...` (the stream's gold models it reads)".into()));
            }
            Upkeep::Derived { from }
        }
        Some((line, other)) => return Err(problem(line, format!("upkeep `{other}`: must be `per-entity`, `additive` or `derived`"))),
        None => {
            return Err(problem(
                1,
                "the header must say how the table is kept up to date: `-- upkeep: per-entity` (one row per entity, its first column) or `-- upkeep: additive` with `-- groups:` and `-- count:`".into(),
            ));
        }
    };
    Ok(Aggregate { name: name.to_owned(), sql: sql.to_owned(), upkeep })
}

/// `rate = numerator / denominator, ...`.
fn parse_ratios(text: &str) -> Result<Vec<Ratio>, String> {
    text.split(',')
        .map(|item| {
            let (column, fraction) =
                item.split_once('=').ok_or_else(|| format!("`{}`: a ratio is `COLUMN = NUMERATOR / DENOMINATOR`", item.trim()))?;
            let (numerator, denominator) =
                fraction.split_once('/').ok_or_else(|| format!("`{}`: a ratio is `COLUMN = NUMERATOR / DENOMINATOR`", item.trim()))?;
            Ok(Ratio { column: column.trim().to_owned(), numerator: numerator.trim().to_owned(), denominator: denominator.trim().to_owned() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_model_parses() {
        for (stream, files) in BUILT_IN {
            let models = load(&GoldModels::BuiltIn(stream)).unwrap();
            assert_eq!(models.len(), files.len());
        }
        let models = load(&GoldModels::BuiltIn(crate::config::PURCHASE_ORDERS)).unwrap();
        assert_eq!(models.last().map(|m| m.name.as_str()), Some("most_sold_product_last_month"), "a derived model comes last");
        let sales = models.iter().find(|m| m.name == "product_sales_monthly").unwrap();
        let Upkeep::Additive(spec) = &sales.upkeep else { panic!("additive") };
        assert_eq!(
            (spec.groups.clone(), spec.count.as_str(), spec.max.clone()),
            (vec!["month".to_owned(), "product_id".to_owned()], "orders", vec!["product_name".to_owned()])
        );
    }

    #[test]
    fn two_streams_cannot_write_one_gold_table() {
        let config: crate::config::Config = serde_yaml::from_str(
            "streams:\n  - name: purchase_orders\n  - name: more_orders\n    topic: more\n    record: io.medallion.purchasing.PurchaseOrderItem\n    rules: r.yml\n    current: {key: [order_id], recency: [event_time]}\n",
        )
        .unwrap();
        let mut streams = config.streams();
        assert!(check_tables_distinct(&streams).is_ok(), "a stream without models writes no gold table");
        streams[1].gold_models = GoldModels::BuiltIn(crate::config::PURCHASE_ORDERS);
        let error = check_tables_distinct(&streams).unwrap_err().to_string();
        assert!(error.contains("gold/order_details would be written by both model order_details.sql of stream purchase_orders and model order_details.sql of stream more_orders"), "{error}");
    }

    #[test]
    fn a_bad_header_names_the_file_and_line() {
        let error = parse("models/x.sql", "x.sql", "-- about x\n-- upkeep: sometimes\nSELECT 1").unwrap_err().to_string();
        assert!(error.contains("models/x.sql") && error.contains("line 2") && error.contains("sometimes"), "{error}");
        let error = parse("m.sql", "m.sql", "-- upkeep: additive\n-- groups: a\nSELECT 1").unwrap_err().to_string();
        assert!(error.contains("count"), "{error}");
        let error = parse("m.sql", "m.sql", "SELECT 1").unwrap_err().to_string();
        assert!(error.contains("upkeep"), "{error}");
        let error = parse("m.sql", "m.sql", "-- upkeep: additive\n-- groups: a\n-- count: n\n-- ratios: r = n\nSELECT 1").unwrap_err().to_string();
        assert!(error.contains("line 4") && error.contains("NUMERATOR"), "{error}");
        let error = parse("m.sql", "m.sql", "-- upkeep: derived\nSELECT 1").unwrap_err().to_string();
        assert!(error.contains("line 1") && error.contains("from"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("top.sql"), "-- upkeep: derived\n-- from: daily\nSELECT 1").unwrap();
        let error = load(&GoldModels::Directory(dir.path().to_owned())).unwrap_err().to_string();
        assert!(error.contains("top.sql") && error.contains("line 2") && error.contains("daily"), "{error}");
    }
}
