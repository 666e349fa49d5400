//! Companies.

use diesel::prelude::*;

use super::schema::companies;
use super::{Read, Write};
use crate::domain::company::Company;
use crate::domain::ids::CompanyId;
use crate::error::Result;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = companies)]
struct CompanyRow {
    id: String,
    name: String,
    office_id: Option<String>,
    created_at: i64,
}

impl From<CompanyRow> for Company {
    fn from(row: CompanyRow) -> Self {
        Company {
            id: CompanyId::from_stored(row.id),
            name: row.name,
            office_id: row.office_id.map(CompanyId::from_stored),
            created_at: row.created_at,
        }
    }
}

impl Read<'_> {
    /// The company with this id, if any.
    pub fn company(&mut self, id: &CompanyId) -> Result<Option<Company>> {
        let row = companies::table
            .find(id.as_str())
            .select(CompanyRow::as_select())
            .get_result::<CompanyRow>(self.conn)
            .optional()?;
        Ok(row.map(Company::from))
    }

    /// The client companies of an accounting office, by name.
    pub fn client_companies(&mut self, office_id: &CompanyId) -> Result<Vec<Company>> {
        let rows = companies::table
            .filter(companies::office_id.eq(office_id.as_str()))
            .order(companies::name)
            .select(CompanyRow::as_select())
            .load::<CompanyRow>(self.conn)?;
        Ok(rows.into_iter().map(Company::from).collect())
    }
}

impl Write<'_> {
    pub fn insert_company(&mut self, company: &Company) -> Result<()> {
        let row = CompanyRow {
            id: company.id.as_str().to_owned(),
            name: company.name.clone(),
            office_id: company.office_id.as_ref().map(|id| id.as_str().to_owned()),
            created_at: company.created_at,
        };
        diesel::insert_into(companies::table).values(&row).execute(self.conn)?;
        Ok(())
    }
}
