//! More API worker tests, by subject: streaming, models, tools.

mod models;
mod streaming;
mod tools;
