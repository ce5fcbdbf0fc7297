//! The schema's migrations for each engine, embedded at build time from `migrations/`
//! and applied in order when a store opens (sqlx's migrator, which records what it
//! applied). PostgreSQL's 0001 is SQLite's 0001–0011 in one step; later ones go in pairs.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

/// The SQLite migrations: (version, name, SQL).
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "agreements",
        include_str!("../../../migrations/sqlite/0002_agreements.sql"),
    ),
    (
        3,
        "deadlines",
        include_str!("../../../migrations/sqlite/0003_deadlines.sql"),
    ),
    (
        4,
        "inbox_priority",
        include_str!("../../../migrations/sqlite/0004_inbox_priority.sql"),
    ),
    (
        5,
        "attachments",
        include_str!("../../../migrations/sqlite/0005_attachments.sql"),
    ),
    (
        6,
        "print_jobs",
        include_str!("../../../migrations/sqlite/0006_print_jobs.sql"),
    ),
    (
        7,
        "frozen_assets",
        include_str!("../../../migrations/sqlite/0007_frozen_assets.sql"),
    ),
    (
        8,
        "deadline_meets",
        include_str!("../../../migrations/sqlite/0008_deadline_meets.sql"),
    ),
    (
        10,
        "attachment_bounds",
        include_str!("../../../migrations/sqlite/0010_attachment_bounds.sql"),
    ),
    (
        11,
        "leases_and_indexes",
        include_str!("../../../migrations/sqlite/0011_leases_and_indexes.sql"),
    ),
    (
        12,
        "work_leases",
        include_str!("../../../migrations/sqlite/0012_work_leases.sql"),
    ),
    (
        13,
        "dashboard",
        include_str!("../../../migrations/sqlite/0013_dashboard.sql"),
    ),
    (
        14,
        "receipt_outbox",
        include_str!("../../../migrations/sqlite/0014_receipt_outbox.sql"),
    ),
    (
        15,
        "trace_ids",
        include_str!("../../../migrations/sqlite/0015_trace_ids.sql"),
    ),
    (
        16,
        "retention",
        include_str!("../../../migrations/sqlite/0016_retention.sql"),
    ),
    (
        17,
        "packed_envelopes",
        include_str!("../../../migrations/sqlite/0017_packed_envelopes.sql"),
    ),
    (
        18,
        "leaner_indexes",
        include_str!("../../../migrations/sqlite/0018_leaner_indexes.sql"),
    ),
    (
        19,
        "outbox_next_due",
        include_str!("../../../migrations/sqlite/0019_outbox_next_due.sql"),
    ),
    (
        20,
        "compact_answers",
        include_str!("../../../migrations/sqlite/0020_compact_answers.sql"),
    ),
    (
        21,
        "leaner_receipts",
        include_str!("../../../migrations/sqlite/0021_leaner_receipts.sql"),
    ),
    (
        22,
        "fewer_index_bytes",
        include_str!("../../../migrations/sqlite/0022_fewer_index_bytes.sql"),
    ),
    (
        23,
        "peer_deliveries",
        include_str!("../../../migrations/sqlite/0023_peer_deliveries.sql"),
    ),
    (
        24,
        "rows_in_their_keys",
        include_str!("../../../migrations/sqlite/0024_rows_in_their_keys.sql"),
    ),
    (
        25,
        "receipt_columns",
        include_str!("../../../migrations/sqlite/0025_receipt_columns.sql"),
    ),
    (
        26,
        "first_message_request",
        include_str!("../../../migrations/sqlite/0026_first_message_request.sql"),
    ),
    (
        27,
        "fewer_trees",
        include_str!("../../../migrations/sqlite/0027_fewer_trees.sql"),
    ),
    (
        28,
        "receipts_in_their_key",
        include_str!("../../../migrations/sqlite/0028_receipts_in_their_key.sql"),
    ),
    (
        29,
        "warnings_unmet",
        include_str!("../../../migrations/sqlite/0029_warnings_unmet.sql"),
    ),
    (
        30,
        "inbox_by_seq_only",
        include_str!("../../../migrations/sqlite/0030_inbox_by_seq_only.sql"),
    ),
];

/// The PostgreSQL migrations: (version, name, SQL).
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "work_leases",
        include_str!("../../../migrations/postgres/0002_work_leases.sql"),
    ),
    (
        3,
        "dashboard",
        include_str!("../../../migrations/postgres/0003_dashboard.sql"),
    ),
    (
        4,
        "receipt_outbox",
        include_str!("../../../migrations/postgres/0004_receipt_outbox.sql"),
    ),
    (
        5,
        "trace_ids",
        include_str!("../../../migrations/postgres/0005_trace_ids.sql"),
    ),
    (
        6,
        "retention",
        include_str!("../../../migrations/postgres/0006_retention.sql"),
    ),
    (
        7,
        "packed_envelopes",
        include_str!("../../../migrations/postgres/0007_packed_envelopes.sql"),
    ),
    (
        8,
        "leaner_indexes",
        include_str!("../../../migrations/postgres/0008_leaner_indexes.sql"),
    ),
    (
        9,
        "outbox_next_due",
        include_str!("../../../migrations/postgres/0009_outbox_next_due.sql"),
    ),
    (
        10,
        "compact_answers",
        include_str!("../../../migrations/postgres/0010_compact_answers.sql"),
    ),
    (
        11,
        "leaner_receipts",
        include_str!("../../../migrations/postgres/0011_leaner_receipts.sql"),
    ),
    (
        12,
        "fewer_index_bytes",
        include_str!("../../../migrations/postgres/0012_fewer_index_bytes.sql"),
    ),
    (
        13,
        "peer_deliveries",
        include_str!("../../../migrations/postgres/0013_peer_deliveries.sql"),
    ),
    (
        14,
        "receipt_columns",
        include_str!("../../../migrations/postgres/0014_receipt_columns.sql"),
    ),
    (
        15,
        "first_message_request",
        include_str!("../../../migrations/postgres/0015_first_message_request.sql"),
    ),
    (
        16,
        "fewer_trees",
        include_str!("../../../migrations/postgres/0016_fewer_trees.sql"),
    ),
    (
        17,
        "warnings_unmet",
        include_str!("../../../migrations/postgres/0017_warnings_unmet.sql"),
    ),
];

/// A migrator over `migrations`.
fn migrator(migrations: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, name, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(name),
                    MigrationType::Simple,
                    sqlx::SqlSafeStr::into_sql_str(sql),
                    false,
                )
            })
            .collect(),
    )
}

/// The SQLite migrations, applied in order at open.
pub(super) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// The PostgreSQL migrations, applied in order at open.
pub(super) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_applied_in_order_under_its_name() {
        for (engine, listed) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(engine);
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".sql"))
                .collect();
            files.sort();
            let names: Vec<String> = listed
                .iter()
                .map(|(version, name, _)| format!("{version:04}_{name}.sql"))
                .collect();
            assert_eq!(names, files, "{engine}");
        }
    }
}
