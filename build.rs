//! Checks the wire contract at build time: every `schemas/*.avsc` must parse, and every version of a
//! record must be readable by every other version of it (Avro schema resolution both ways), so a
//! broken or incompatible schema fails the build with its file name instead of failing in production.
//! The checked schemas are embedded into the crate as `$OUT_DIR/schemas.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::{env, fs};

use apache_avro::Schema;
use apache_avro::schema_compatibility::SchemaCompatibility;

struct SchemaFile {
    path: PathBuf,
    file_name: String,
    version: u32,
    schema: Schema,
}

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("schemas");
    println!("cargo:rerun-if-changed={}", dir.display());
    let files = match load_schema_files(&dir) {
        Ok(files) => files,
        Err(message) => fail(&message),
    };
    if let Err(message) = check_versions_resolve(&files) {
        fail(&message);
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("schemas.rs");
    fs::write(&out, render(&files)).unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", out.display())));
    // The file names and versions alone, for the configuration's validation (which sits below
    // the wire format and does not need the schemas themselves).
    let names = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("schema_files.rs");
    fs::write(&names, render_names(&files)).unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", names.display())));
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    println!("cargo:warning={message}");
    std::process::exit(1);
}

/// Parses every `<name>.v<N>.avsc` in `dir`, sorted by file name.
fn load_schema_files(dir: &Path) -> Result<Vec<SchemaFile>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> =
        entries.filter_map(|entry| entry.ok().map(|e| e.path())).filter(|path| path.extension().is_some_and(|ext| ext == "avsc")).collect();
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        println!("cargo:rerun-if-changed={}", path.display());
        let version = parse_version(&file_name).ok_or_else(|| format!("{}: schema file names must end in .v<N>.avsc", path.display()))?;
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let schema = Schema::parse_str(&text).map_err(|e| format!("{}: invalid Avro schema: {e}", path.display()))?;
        if !matches!(schema, Schema::Record(_)) {
            return Err(format!("{}: the top-level schema must be a record", path.display()));
        }
        files.push(SchemaFile { path, file_name, version, schema });
    }
    if files.is_empty() {
        return Err(format!("no .avsc schemas found in {}", dir.display()));
    }
    Ok(files)
}

fn parse_version(file_name: &str) -> Option<u32> {
    let stem = file_name.strip_suffix(".avsc")?;
    let (_, version) = stem.rsplit_once(".v")?;
    version.parse().ok()
}

fn full_name(schema: &Schema) -> String {
    match schema {
        Schema::Record(record) => record.name.fullname(None),
        _ => String::new(),
    }
}

/// Every pair of versions of the same record must resolve in both directions.
fn check_versions_resolve(files: &[SchemaFile]) -> Result<(), String> {
    let mut families: BTreeMap<String, Vec<&SchemaFile>> = BTreeMap::new();
    for file in files {
        families.entry(full_name(&file.schema)).or_default().push(file);
    }
    for versions in families.values() {
        for (i, a) in versions.iter().enumerate() {
            for b in &versions[i + 1..] {
                if a.version == b.version {
                    return Err(format!("{} and {} declare the same version", a.file_name, b.file_name));
                }
                SchemaCompatibility::mutual_read(&a.schema, &b.schema)
                    .map_err(|e| format!("{} and {} do not resolve against each other: {e}", a.file_name, b.file_name))?;
            }
        }
    }
    Ok(())
}

fn render_names(files: &[SchemaFile]) -> String {
    let mut out = String::from(
        "/// (file name, record full name, version) of every schema embedded from `schemas/`.\npub const SCHEMA_FILES: &[(&str, &str, u32)] = &[\n",
    );
    for file in files {
        out.push_str(&format!("    ({:?}, {:?}, {}),\n", file.file_name, full_name(&file.schema), file.version));
    }
    out.push_str("];\n");
    out
}

fn render(files: &[SchemaFile]) -> String {
    let mut out =
        String::from("/// Schemas embedded from `schemas/` and checked by `build.rs`.\npub static EMBEDDED_SCHEMAS: &[EmbeddedSchema] = &[\n");
    for file in files {
        out.push_str(&format!(
            "    EmbeddedSchema {{ file_name: {:?}, full_name: {:?}, version: {}, json: include_str!({:?}) }},\n",
            file.file_name,
            full_name(&file.schema),
            file.version,
            file.path.display().to_string(),
        ));
    }
    out.push_str("];\n");
    out
}
