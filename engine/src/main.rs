//! The `homeport` command.
fn main() {}
