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
