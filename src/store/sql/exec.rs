//! One way to run a statement inside a transaction, whichever connection holds it: an
//! sqlx transaction (PostgreSQL, and SQLite outside the group commit) or the SQLite
//! committer's own connection ([`super::local`]). The pipeline's writes are written once
//! against [`Exec`].
//!
//! Statements use `$1, $2, …` placeholders (a number may repeat or come out of order);
//! both engines read them.

use async_trait::async_trait;
use sqlx::AnyConnection;
use sqlx::{Any, AssertSqlSafe, Row as _, Transaction};

use crate::store::StoreError;

/// A value bound to a placeholder. A NULL keeps its type (PostgreSQL wants it).
#[derive(Debug, Clone, Copy)]
pub(super) enum Arg<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    Blob(Option<&'a [u8]>),
}

impl<'a> From<&'a Vec<u8>> for Arg<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Arg::Blob(Some(v))
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Blob(Some(v))
    }
}

impl<'a> From<Option<&'a [u8]>> for Arg<'a> {
    fn from(v: Option<&'a [u8]>) -> Self {
        Arg::Blob(v)
    }
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}

impl<'a> From<&&'a str> for Arg<'a> {
    fn from(v: &&'a str) -> Self {
        Arg::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v)
    }
}

/// A SHA-256 digest to store in a column that SQLite keeps as its 32 bytes (half its hex
/// text) and PostgreSQL as hex text: `hex` is `digest`'s hex. Reads take either form
/// ([`Row::hex`], `read::hex_text`), so rows written before as text read the same.
pub(super) fn digest_arg<'a>(
    postgres: bool,
    digest: &'a crate::ids::Sha256,
    hex: &'a str,
) -> Arg<'a> {
    if postgres {
        Arg::Text(Some(hex))
    } else {
        Arg::Blob(Some(digest.as_bytes()))
    }
}

/// A W3C trace id's 16 bytes, if `trace` is one as kuayu keeps them (32 lower-case hex,
/// [`crate::observe::trace::is_trace_id`]): what [`trace_arg`] binds on SQLite.
pub(super) fn trace_bytes(trace: Option<&str>) -> Option<[u8; 16]> {
    let trace = trace.filter(|t| crate::observe::trace::is_trace_id(t))?;
    let mut bytes = [0_u8; 16];
    hex::decode_to_slice(trace, &mut bytes).ok()?;
    Some(bytes)
}

/// A request's trace id to store: SQLite keeps its 16 bytes (`bytes`, from
/// [`trace_bytes`] of `text`), half its hex text; PostgreSQL the text, as does SQLite for
/// anything that is not a trace id. Reads take either form ([`Row::optional_hex`],
/// `read::optional_hex`), and a trace id's hex is lower-case, so it reads back the same.
pub(super) fn trace_arg<'a>(
    postgres: bool,
    text: Option<&'a str>,
    bytes: &'a Option<[u8; 16]>,
) -> Arg<'a> {
    match bytes {
        Some(b) if !postgres => Arg::Blob(Some(b)),
        _ => Arg::Text(text),
    }
}

/// The arguments of a statement, `$1` first: `args![a, b]`.
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        &[$($crate::store::sql::exec::Arg::from($v)),*]
    };
}
pub(super) use args;

/// One value of a row read back.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// A row read back, its columns in the statement's order.
#[derive(Debug)]
pub(super) struct Row(pub Vec<Cell>);

impl Row {
    fn cell(&self, i: usize) -> Result<&Cell, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Backend(format!("the row has no column {i}")))
    }

    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.cell(i)? {
            Cell::Int(v) => Ok(*v),
            other => Err(StoreError::Backend(format!(
                "column {i} is {other:?}, not an integer"
            ))),
        }
    }

    pub fn text(&self, i: usize) -> Result<&str, StoreError> {
        self.optional_text(i)?
            .ok_or_else(|| StoreError::Backend(format!("column {i} is NULL, not text")))
    }

    /// Text or NULL.
    pub fn optional_text(&self, i: usize) -> Result<Option<&str>, StoreError> {
        match self.cell(i)? {
            Cell::Text(v) => Ok(Some(v)),
            Cell::Null => Ok(None),
            other => Err(StoreError::Backend(format!(
                "column {i} is {other:?}, not text"
            ))),
        }
    }

    /// An integer or NULL.
    pub fn optional_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.cell(i)? {
            Cell::Int(v) => Ok(Some(*v)),
            Cell::Null => Ok(None),
            other => Err(StoreError::Backend(format!(
                "column {i} is {other:?}, not an integer"
            ))),
        }
    }

    /// A SHA-256 digest as hex text, kept as text or as its bytes (see [`digest_arg`]).
    pub fn hex(&self, i: usize) -> Result<String, StoreError> {
        match self.cell(i)? {
            Cell::Text(v) => Ok(v.clone()),
            Cell::Blob(v) => Ok(hex::encode(v)),
            other => Err(StoreError::Backend(format!(
                "column {i} is {other:?}, not a digest"
            ))),
        }
    }

    /// [`Row::hex`] or NULL.
    pub fn optional_hex(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            _ => self.hex(i).map(Some),
        }
    }

    /// Bytes or NULL.
    pub fn optional_blob(&self, i: usize) -> Result<Option<&[u8]>, StoreError> {
        match self.cell(i)? {
            Cell::Blob(v) => Ok(Some(v)),
            Cell::Null => Ok(None),
            other => Err(StoreError::Backend(format!(
                "column {i} is {other:?}, not bytes"
            ))),
        }
    }
}

/// A transaction statements run in.
#[async_trait]
pub(super) trait Exec: Send {
    /// Whether this is PostgreSQL (advisory locks; see [`super::tx::serialise`]).
    fn postgres(&self) -> bool;

    /// Runs a statement that returns no rows; the number of rows it changed.
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError>;

    /// Runs a query; its first row, if any.
    async fn optional(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, StoreError>;

    /// Runs a query; all its rows.
    async fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError>;
}

/// A row of an sqlx query, as a [`Row`].
fn row_of(row: &sqlx::any::AnyRow) -> Result<Row, StoreError> {
    let mut cells = Vec::with_capacity(row.len());
    for i in 0..row.len() {
        cells.push(match row.try_get::<Option<i64>, _>(i) {
            Ok(Some(v)) => Cell::Int(v),
            Ok(None) => Cell::Null,
            Err(_) => match row.try_get::<Option<String>, _>(i) {
                Ok(Some(v)) => Cell::Text(v),
                Ok(None) => Cell::Null,
                Err(_) => match row.try_get::<Option<Vec<u8>>, _>(i)? {
                    Some(v) => Cell::Blob(v),
                    None => Cell::Null,
                },
            },
        });
    }
    Ok(Row(cells))
}

fn bind<'q>(
    mut query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    args: &[Arg<'_>],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    for arg in args {
        query = match *arg {
            Arg::Int(v) => query.bind(v),
            Arg::Text(v) => query.bind(v.map(str::to_owned)),
            Arg::Blob(v) => query.bind(v.map(<[u8]>::to_vec)),
        };
    }
    query
}

#[async_trait]
impl Exec for AnyConnection {
    fn postgres(&self) -> bool {
        self.backend_name() == "PostgreSQL"
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let done = bind(sqlx::query(AssertSqlSafe(sql)), args)
            .execute(&mut *self)
            .await?;
        Ok(done.rows_affected())
    }

    async fn optional(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, StoreError> {
        let row = bind(sqlx::query(AssertSqlSafe(sql)), args)
            .fetch_optional(&mut *self)
            .await?;
        row.as_ref().map(row_of).transpose()
    }

    async fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError> {
        bind(sqlx::query(AssertSqlSafe(sql)), args)
            .fetch_all(&mut *self)
            .await?
            .iter()
            .map(row_of)
            .collect()
    }
}

/// A transaction is its connection's statements between BEGIN and COMMIT.
#[async_trait]
impl Exec for Transaction<'_, Any> {
    fn postgres(&self) -> bool {
        <AnyConnection as Exec>::postgres(self)
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        <AnyConnection as Exec>::execute(&mut **self, sql, args).await
    }

    async fn optional(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, StoreError> {
        <AnyConnection as Exec>::optional(&mut **self, sql, args).await
    }

    async fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError> {
        <AnyConnection as Exec>::rows(&mut **self, sql, args).await
    }
}

#[cfg(test)]
mod tests {
    use super::{Arg, trace_arg, trace_bytes};

    #[test]
    fn a_trace_id_is_bound_as_its_bytes_on_sqlite_and_as_text_otherwise() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let bytes = trace_bytes(Some(id));
        assert_eq!(bytes.map(hex::encode).as_deref(), Some(id));
        assert!(matches!(trace_arg(false, Some(id), &bytes), Arg::Blob(Some(b)) if b.len() == 16));
        assert!(matches!(trace_arg(true, Some(id), &bytes), Arg::Text(Some(t)) if t == id));
        // Upper case would not read back the same, and anything else is kept as given.
        for other in [
            "4BF92F3577B34DA6A3CE929D0E0E4736",
            "00000000000000000000000000000000",
            "t1",
            "",
        ] {
            let none = trace_bytes(Some(other));
            assert_eq!(none, None, "{other}");
            assert!(
                matches!(trace_arg(false, Some(other), &none), Arg::Text(Some(t)) if t == other)
            );
        }
        assert!(matches!(trace_arg(false, None, &None), Arg::Text(None)));
    }
}
