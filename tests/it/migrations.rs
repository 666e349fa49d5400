//! Both migration trees hold the same versions, each complete, and the same
//! SQL until a dialect really differs.

use std::collections::BTreeSet;
use std::path::Path;

fn versions(backend: &str) -> BTreeSet<String> {
    versions_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend))
}

/// The versions of a tree of migrations, each with its `up.sql` and `down.sql`.
pub fn versions_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
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

/// The statements of a migration that would break the previous release,
/// each with why: everything but what only adds — a table, an index on a new
/// table or a plain one on an old, rows that replace none, and a column that
/// an insert naming only the old columns still fills.
pub fn breaking_statements(sql: &str) -> Vec<(String, &'static str)> {
    let worded: Vec<(String, Vec<String>)> = statements(sql)
        .into_iter()
        .map(|statement| {
            let words = statement
                .split_whitespace()
                .map(|w| w.split('(').next().unwrap_or_default().to_ascii_uppercase())
                .collect();
            (statement, words)
        })
        .collect();
    let created: Vec<String> = worded
        .iter()
        .filter(|(_, words)| words.starts_with(&["CREATE".into(), "TABLE".into()]))
        .filter_map(|(_, words)| words.iter().skip(2).find(|w| !["IF", "NOT", "EXISTS"].contains(&w.as_str())).cloned())
        .collect();
    worded.into_iter().filter_map(|(statement, words)| Some((statement, why_it_breaks(&words, &created)?))).collect()
}

fn why_it_breaks(words: &[String], created: &[String]) -> Option<&'static str> {
    let starts = |prefix: &[&str]| words.len() >= prefix.len() && words.iter().zip(prefix).all(|(w, p)| w == p);
    let has = |pair: [&str; 2]| words.windows(2).any(|w| w[0] == pair[0] && w[1] == pair[1]);
    if starts(&["CREATE", "TABLE"]) || starts(&["CREATE", "INDEX"]) {
        return None;
    }
    if starts(&["CREATE", "UNIQUE", "INDEX"]) {
        let table = words.iter().skip_while(|w| *w != "ON").nth(1);
        return match table {
            Some(table) if created.contains(table) => None,
            _ => Some("a unique index on an old table can refuse the previous release's inserts"),
        };
    }
    if starts(&["INSERT", "INTO"]) {
        return has(["DO", "UPDATE"]).then_some("it rewrites rows that are there");
    }
    if starts(&["ALTER", "TABLE"]) && words.get(3).is_some_and(|w| w == "ADD") {
        let what = words.get(4).map(String::as_str);
        if matches!(what, Some("CONSTRAINT" | "UNIQUE" | "CHECK" | "PRIMARY" | "FOREIGN") | None) {
            return Some("a constraint on an old table can refuse the previous release's writes");
        }
        let defaulted = words.iter().any(|w| w == "DEFAULT");
        return (has(["NOT", "NULL"]) && !defaulted)
            .then_some("a NOT NULL column without a DEFAULT, left out by the old inserts");
    }
    Some("it changes or removes what the previous release reads or writes")
}

/// The statements of a migration, without their comments: split at each
/// `;` that is not inside a string (`'…'`) or a quoted name (`"…"`), with
/// `--` and `/* */` comments left out. A string, name or comment left open
/// makes the rest one statement that breaks, so that nothing hides in it.
fn statements(sql: &str) -> Vec<String> {
    let (mut found, mut current, mut open) = (Vec::new(), String::new(), None::<char>);
    let mut chars = sql.chars().peekable();
    'scan: while let Some(c) = chars.next() {
        match (open, c) {
            (Some(quote), _) if c == quote => open = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => open = Some(c),
            (None, '-') if chars.peek() == Some(&'-') => {
                while chars.next_if(|&next| next != '\n').is_some() {}
                continue;
            }
            (None, '/') if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                loop {
                    match chars.next() {
                        Some('/') if last == '*' => break,
                        Some(next) => last = next,
                        None => {
                            current.insert_str(0, "UNCLOSED COMMENT ");
                            break 'scan;
                        }
                    }
                }
                current.push(' ');
                continue;
            }
            (None, ';') => {
                found.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if open.is_some() {
        current.insert_str(0, "UNCLOSED QUOTE ");
    }
    found.push(current);
    found.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

#[test]
fn migrations_after_the_previous_release_only_add() {
    let newer: Vec<String> =
        versions("sqlite").into_iter().filter(|v| v.as_str() > NEWEST_OF_THE_PREVIOUS_RELEASE).collect();
    assert!(versions("sqlite").contains(NEWEST_OF_THE_PREVIOUS_RELEASE));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for version in newer {
        let sql = std::fs::read_to_string(root.join(&version).join("up.sql")).unwrap();
        let breaking = breaking_statements(&sql);
        assert!(breaking.is_empty(), "{version} breaks a rolling upgrade: {breaking:?}");
    }
}

#[test]
fn only_additions_pass_for_a_rolling_upgrade() {
    let sql = "-- a comment; with a semicolon\n\
        CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL);\n\
        create unique index t_id on t (id);\n\
        CREATE INDEX users_name ON users (name);\n\
        ALTER TABLE users ADD COLUMN nickname TEXT; -- nullable\n\
        ALTER TABLE users ADD COLUMN tier INTEGER NOT NULL DEFAULT 0;\n\
        INSERT INTO t (id) VALUES ('x; -- not a comment');";
    let found = statements(sql);
    assert_eq!(found.len(), 6, "{found:?}");
    assert_eq!(found[5], "INSERT INTO t (id) VALUES ('x; -- not a comment')");
    assert_eq!(breaking_statements(sql), vec![]);
    for breaking in [
        "DROP TABLE sessions",
        "ALTER TABLE users DROP COLUMN phone",
        "ALTER TABLE users RENAME COLUMN phone TO mobile",
        "ALTER TABLE users RENAME TO people",
        "ALTER TABLE users ADD COLUMN tier INTEGER NOT NULL",
        "ALTER TABLE users ALTER COLUMN phone SET NOT NULL",
        "UPDATE users SET phone = NULL",
        "DELETE FROM sessions",
        "CREATE UNIQUE INDEX users_phone ON users (phone)",
        "INSERT INTO t (id) VALUES ('x') ON CONFLICT (id) DO UPDATE SET id = 'y'",
        "INSERT OR REPLACE INTO t (id) VALUES ('x')",
        "INSERT INTO t (id) VALUES ('--'); DROP TABLE users",
        "CREATE INDEX i ON t (a) /* don't */; DROP TABLE users",
        "CREATE INDEX \"it's\" ON t (a); DROP TABLE users",
        "CREATE INDEX i ON t (a); INSERT INTO t VALUES ('unclosed",
        "CREATE INDEX i ON t (a); CREATE INDEX j ON t (b) /* unclosed; DROP TABLE users",
        "ALTER TABLE users ADD CONSTRAINT one_email UNIQUE (email)",
        "ALTER TABLE users ADD UNIQUE (email)",
    ] {
        assert!(!breaking_statements(breaking).is_empty(), "{breaking}");
    }
}
