//! How the identifiers appear in the OpenAPI documents: strings with the pattern their
//! `parse` enforces, and an example.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};

/// A string schema with `description`, `pattern` (ECMA-262) and `example`.
pub fn text(description: &str, pattern: Option<&str>, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(pattern)
        .examples([serde_json::Value::from(example)])
        .into()
}

/// A string schema in a format (`uuid`, ...), with the pattern of that format.
pub fn formatted(description: &str, format: &str, pattern: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom(format.to_owned())))
        .pattern(Some(pattern))
        .description(Some(description))
        .examples([serde_json::Value::from(example)])
        .into()
}

/// Implements `utoipa::ToSchema` for a type that serialises as a string.
macro_rules! text_schema {
    ($name:ty, $schema:expr) => {
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $schema
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use text_schema;
