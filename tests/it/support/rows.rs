//! Rows and tables read straight from a test's database, past Portti's store.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::Text;
use portti::store::DbConnection;

use super::TestDb;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn names(db: &TestDb, sqlite: &str, postgres: &str) -> Vec<String> {
    let rows: Vec<Name> = match &mut db.connection() {
        DbConnection::Sqlite(c) => diesel::sql_query(sqlite).load(c),
        DbConnection::Postgresql(c) => diesel::sql_query(postgres).load(c),
    }
    .unwrap();
    rows.into_iter().map(|row| row.name).collect()
}

/// The tables of the migrated schema, or only those with a column `with_column`.
pub fn tables(db: &TestDb, with_column: Option<&str>) -> BTreeSet<String> {
    let (sqlite, postgres) = match with_column {
        None => (
            "SELECT name FROM sqlite_master WHERE type = 'table'".to_owned(),
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
             WHERE table_schema = current_schema()"
                .to_owned(),
        ),
        Some(column) => (
            format!(
                "SELECT m.name AS name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
                 WHERE m.type = 'table' AND c.name = '{column}'"
            ),
            format!(
                "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND column_name = '{column}'"
            ),
        ),
    };
    names(db, &sqlite, &postgres).into_iter().collect()
}

/// Every value of a text column, sorted: which rows a table holds.
pub fn column_values(db: &TestDb, table: &str, column: &str) -> Vec<String> {
    let query = format!("SELECT {column} AS name FROM {table}");
    let mut values = names(db, &query, &query);
    values.sort();
    values
}
