//! Hand-written SQL that diesel still caches as a prepared statement.
//!
//! `diesel::sql_query` statements are never cached, so the inbox claim (a statement with a
//! subquery) was parsed and planned again on every call — a fifth of the service's CPU under
//! load. [`CachedSql`] writes the same SQL with bind parameters through diesel's query
//! builder, which keys its statement cache on the SQL text.

use diesel::QueryResult;
use diesel::RunQueryDsl;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Nullable, Text, Untyped};

use super::connection::MultiBackend;

pub(crate) enum Bind {
    Text(String),
    BigInt(i64),
    NullableText(Option<String>),
    NullableBigInt(Option<i64>),
}

/// `parts[0] bind[0] parts[1] bind[1] … parts[n]`.
pub(crate) struct CachedSql {
    parts: &'static [&'static str],
    binds: Vec<Bind>,
}

impl CachedSql {
    pub fn new(parts: &'static [&'static str], binds: Vec<Bind>) -> Self {
        debug_assert_eq!(parts.len(), binds.len() + 1);
        Self { parts, binds }
    }
}

impl QueryId for CachedSql {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for CachedSql {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for CachedSql {}

impl QueryFragment<MultiBackend> for CachedSql {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        for (i, part) in self.parts.iter().enumerate() {
            out.push_sql(part);
            match self.binds.get(i) {
                Some(Bind::Text(s)) => out.push_bind_param::<Text, _>(s)?,
                Some(Bind::BigInt(n)) => out.push_bind_param::<BigInt, _>(n)?,
                Some(Bind::NullableText(s)) => out.push_bind_param::<Nullable<Text>, _>(s)?,
                Some(Bind::NullableBigInt(n)) => {
                    out.push_bind_param::<Nullable<BigInt>, _>(n)?;
                }
                None => {}
            }
        }
        Ok(())
    }
}
