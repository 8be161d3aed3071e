//! The types that describe the model: shapes, members, operations and paginators. The data
//! itself lives in the generated module.

use crate::ErrorCode;
use crate::Op;

/// Where an input member travels on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// A member of the JSON body.
    Body,
    /// A path label.
    Uri,
    /// A query-string parameter (repeated for lists).
    Query,
    /// An HTTP header.
    Header,
}

/// A member of a structure.
#[derive(Debug)]
pub struct Member {
    /// The member name (the JSON key in bodies).
    pub name: &'static str,
    /// Index of the member's shape in `SHAPES`.
    pub shape: usize,
    /// Whether the model requires it.
    pub required: bool,
    /// Where it is bound.
    pub location: Location,
    /// The label, query key or header name (the member name for body members).
    pub wire_name: &'static str,
    /// Marked as the idempotency token.
    pub idempotency_token: bool,
}

/// What kind of value a shape is, with its constraints.
#[derive(Debug)]
pub enum Kind {
    /// A structure and its members.
    Structure(&'static [Member]),
    /// A string: length bounds in characters, pattern (index into `PATTERNS`), enum values.
    String {
        /// Minimum length.
        min: Option<i64>,
        /// Maximum length.
        max: Option<i64>,
        /// Index into `PATTERNS`.
        pattern: Option<usize>,
        /// Allowed values; empty when not an enum.
        values: &'static [&'static str],
    },
    /// An integer or long with its range.
    Integer {
        /// Smallest allowed value.
        min: Option<i64>,
        /// Largest allowed value.
        max: Option<i64>,
    },
    /// A boolean.
    Boolean,
    /// A timestamp.
    Timestamp,
    /// A list with its length bounds.
    List {
        /// The member shape.
        member: usize,
        /// Minimum item count.
        min: Option<i64>,
        /// Maximum item count.
        max: Option<i64>,
    },
    /// A map with its size bounds.
    Map {
        /// The key shape.
        key: usize,
        /// The value shape.
        value: usize,
        /// Minimum entry count.
        min: Option<i64>,
        /// Maximum entry count.
        max: Option<i64>,
    },
}

/// One shape of the model.
#[derive(Debug)]
pub struct Shape {
    /// The model's name for it.
    pub name: &'static str,
    /// Marked sensitive: never logged.
    pub sensitive: bool,
    /// Its kind and constraints.
    pub kind: Kind,
}

/// An operation: its route, codes and errors.
#[derive(Debug)]
pub struct Operation {
    /// The operation name.
    pub name: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// URI template, labels in braces.
    pub uri: &'static str,
    /// The success status code.
    pub success: u16,
    /// Input shape index.
    pub input: Option<usize>,
    /// Output shape index.
    pub output: Option<usize>,
    /// Errors the operation declares.
    pub errors: &'static [ErrorCode],
    /// Marked idempotent in the model.
    pub idempotent: bool,
}

/// A paginator of the model.
#[derive(Debug)]
pub struct Paginator {
    /// The paginated operation.
    pub operation: Op,
    /// Request member carrying the token.
    pub input_token: &'static str,
    /// Response member carrying the token.
    pub output_token: &'static str,
    /// Request member limiting the page size.
    pub limit_key: &'static str,
    /// Response member holding the items.
    pub result_key: &'static str,
}

impl Operation {
    /// The input structure's members, or none.
    pub fn input_members(&self) -> &'static [Member] {
        match self.input.map(|i| &crate::SHAPES[i].kind) {
            Some(Kind::Structure(m)) => m,
            _ => &[],
        }
    }
}
