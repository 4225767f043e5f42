//! Parsers: each format produces the same `Prd` model plus the diagnostics the
//! parser itself can see (syntax, schema, missing ids).

pub mod legacy;
pub mod markdown;
pub mod node;
pub mod structured;
