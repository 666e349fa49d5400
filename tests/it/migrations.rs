//! Both migration trees hold the same versions, each complete, and the same
//! SQL until a dialect really differs.

use std::collections::BTreeSet;
use std::path::Path;

fn versions(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            assert!(path.join("up.sql").is_file(), "{} has no up.sql", path.display());
            assert!(path.join("down.sql").is_file(), "{} has no down.sql", path.display());
            path.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect()
}

#[test]
fn sqlite_and_postgres_have_the_same_versions() {
    let sqlite = versions("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, versions("postgres"));
}

/// Files meant to differ between `migrations/sqlite` and `migrations/postgres`,
/// as paths under either (`2026-…/up.sql`). Empty: every migration is written
/// once, in SQL both dialects take. A migration that needs a dialect of its
/// own goes here, and then that difference is the point of the migration.
const MEANT_TO_DIFFER: &[&str] = &[];

/// Every file under `dir`, as paths relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    found
}

#[test]
fn every_sqlite_migration_has_a_byte_identical_postgres_twin() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let (sqlite, postgres) = (root.join("sqlite"), root.join("postgres"));
    let sqlite_files = files(&sqlite);
    assert!(sqlite_files.iter().any(|f| f.ends_with("up.sql")), "{sqlite_files:?}");
    assert_eq!(sqlite_files, files(&postgres), "the same files in both trees");
    for meant in MEANT_TO_DIFFER {
        assert!(sqlite_files.contains(*meant), "{meant} is allowed to differ but does not exist");
    }
    let mut differ = Vec::new();
    for file in &sqlite_files {
        let same = std::fs::read(sqlite.join(file)).unwrap() == std::fs::read(postgres.join(file)).unwrap();
        let meant = MEANT_TO_DIFFER.contains(&file.as_str());
        assert!(!(same && meant), "{file} is identical now: take it off MEANT_TO_DIFFER");
        if !same && !meant {
            differ.push(file.as_str());
        }
    }
    assert!(differ.is_empty(), "differ between the dialects without being meant to: {differ:?}");
}

/// The newest migration of the previous release (`.ci/previous-release`).
/// Every later one must only add, so that the previous release keeps
/// working on a database the new one migrated, during a rolling upgrade
/// (`tests/it/upgrade.rs` runs it there, and checks this name against the
/// previous release's own migrations).
pub const NEWEST_OF_THE_PREVIOUS_RELEASE: &str = "2026-12-02-000016_upstream_identification";

/// Why a statement of a migration would break the previous release, or
/// `None` when it only adds: a table, an index, rows, or a column that an
/// insert naming only the old columns still fills.
fn breaks_the_previous_release(statement: &str) -> Option<&'static str> {
    let words: Vec<String> = statement.split_whitespace().map(str::to_ascii_uppercase).collect();
    let starts = |prefix: &[&str]| words.len() >= prefix.len() && words.iter().zip(prefix).all(|(w, p)| w == p);
    if [&["CREATE", "TABLE"][..], &["CREATE", "INDEX"], &["CREATE", "UNIQUE", "INDEX"], &["INSERT", "INTO"]]
        .iter()
        .any(|prefix| starts(prefix))
    {
        return None;
    }
    if starts(&["ALTER", "TABLE"]) && words.get(3).is_some_and(|w| w == "ADD") {
        let not_null = words.windows(2).any(|pair| pair[0] == "NOT" && pair[1] == "NULL");
        let defaulted = words.iter().any(|w| w == "DEFAULT");
        return (not_null && !defaulted).then_some("a NOT NULL column without a DEFAULT, left out by the old inserts");
    }
    Some("it changes or removes what the previous release reads or writes")
}

/// The statements of a migration, without their comments.
fn statements(sql: &str) -> Vec<String> {
    let uncommented: String =
        sql.lines().map(|line| line.split("--").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    uncommented.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[test]
fn migrations_after_the_previous_release_only_add() {
    let newer: Vec<String> =
        versions("sqlite").into_iter().filter(|v| v.as_str() > NEWEST_OF_THE_PREVIOUS_RELEASE).collect();
    assert!(versions("sqlite").contains(NEWEST_OF_THE_PREVIOUS_RELEASE));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for version in newer {
        let sql = std::fs::read_to_string(root.join(&version).join("up.sql")).unwrap();
        for statement in statements(&sql) {
            if let Some(why) = breaks_the_previous_release(&statement) {
                panic!("{version}: {statement:?} breaks a rolling upgrade: {why}");
            }
        }
    }
}

#[test]
fn only_additions_pass_for_a_rolling_upgrade() {
    let sql = "-- a comment; with a semicolon\n\
        CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL);\n\
        create unique index t_id on t (id);\n\
        ALTER TABLE users ADD COLUMN nickname TEXT; -- nullable\n\
        ALTER TABLE users ADD COLUMN tier INTEGER NOT NULL DEFAULT 0;\n\
        INSERT INTO t (id) VALUES ('x');";
    let found = statements(sql);
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(found.iter().all(|s| breaks_the_previous_release(s).is_none()), "{found:?}");
    for breaking in [
        "DROP TABLE sessions",
        "ALTER TABLE users DROP COLUMN phone",
        "ALTER TABLE users RENAME COLUMN phone TO mobile",
        "ALTER TABLE users RENAME TO people",
        "ALTER TABLE users ADD COLUMN tier INTEGER NOT NULL",
        "ALTER TABLE users ALTER COLUMN phone SET NOT NULL",
        "UPDATE users SET phone = NULL",
        "DELETE FROM sessions",
    ] {
        assert!(breaks_the_previous_release(breaking).is_some(), "{breaking}");
    }
}
