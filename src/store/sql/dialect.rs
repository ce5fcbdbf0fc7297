//! What differs between the two engines' SQL, in one place: everything else is written
//! once, with `$1, $2, …` placeholders, which both SQLite and PostgreSQL read.

use crate::workflow;

/// The engine a [`super::SqlStore`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded SQLite: one writer connection, so transactions are serial.
    Sqlite,
    /// PostgreSQL: many connections, possibly from several replicas.
    Postgres,
}

impl Dialect {
    /// The text at `path` (keys from the root) inside the JSON text in `column`.
    pub fn json_text(self, column: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{}')", path.join(".")),
            Dialect::Postgres => format!("(({column})::jsonb #>> '{{{}}}')", path.join(",")),
        }
    }
}

/// `column NOT IN (…terminal states…)`: the states are this program's own constants,
/// written into the statement as literals.
pub fn not_terminal(column: &str) -> String {
    format!("{column} NOT IN ({})", terminal_states())
}

/// `column IN (…terminal states…)`: a finished request.
pub fn terminal(column: &str) -> String {
    format!("{column} IN ({})", terminal_states())
}

fn terminal_states() -> String {
    workflow::TERMINAL
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$first, $first+1, …` for `count` values bound in that order.
pub fn marks(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_read_the_same_key_on_both_engines() {
        assert_eq!(
            Dialect::Sqlite.json_text("m.envelope", &["payload", "mode"]),
            "json_extract(m.envelope, '$.payload.mode')"
        );
        assert_eq!(
            Dialect::Postgres.json_text("m.envelope", &["payload", "mode"]),
            "((m.envelope)::jsonb #>> '{payload,mode}')"
        );
    }

    #[test]
    fn marks_count_from_the_first_free_number() {
        assert_eq!(marks(3, 2), "$3, $4");
        assert_eq!(marks(1, 0), "");
    }

    #[test]
    fn terminal_states_are_quoted_literals() {
        let sql = not_terminal("r.state");
        for state in workflow::TERMINAL {
            assert!(sql.contains(&format!("'{state}'")), "{sql}");
        }
    }
}
