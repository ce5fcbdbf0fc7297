//! How a store operation fails, and the refusal a failed commit becomes.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The change conflicts with what is stored (e.g. one message id, two contents).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Another writer changed the request (or print job) after this step was checked
    /// against it: nothing was stored. 409 `conflict`; the caller reads it again.
    #[error("{0}")]
    Raced(String),
    /// The database failed.
    #[error("database: {0}")]
    Backend(String),
    /// A message lists a blob that was removed (unlisted past its age) after the pipeline
    /// checked it: nothing was stored; the sender uploads it again.
    #[error("{0}")]
    AttachmentGone(String),
}

impl StoreError {
    /// The refusal for a commit that failed: `attachment_missing` for a blob that went,
    /// anything else internal (logged, never shown).
    pub fn into_problem(self) -> crate::problem::Problem {
        match self {
            StoreError::AttachmentGone(why) => crate::problem::Problem::new(
                crate::problem::Code::AttachmentMissing,
                format!("{why}; upload it again"),
            ),
            StoreError::Raced(why) => crate::problem::Problem::new(
                crate::problem::Code::Conflict,
                format!(
                    "{why}; nothing was stored: read it again, and send the step again if it still applies"
                ),
            ),
            other => crate::problem::Problem::internal(other),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Backend(e.to_string())
    }
}
