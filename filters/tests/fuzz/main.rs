//! Property-based fuzzing of the filters that read hostile input (issue "Hostile tenants and
//! hostile input", item 11): the create body, asset Action bodies and queries, callback and
//! media URLs, and the list query. Each harness states properties of what an *accepted* input
//! turns into — the thing the channel receives — not only that nothing panics, and its
//! generators mostly produce near-valid inputs so those properties are exercised.
//!
//! One test binary (compiled and linked once), one module per filter. The in-suite budget is
//! small (see [`gen::config`]); a long campaign is
//! `PROPTEST_CASES=500000 cargo test -p seedance-filters --release --test fuzz`.

mod asset;
mod callback;
mod create;
mod gen;
mod list_query;
