//! The asset library (SPEC §4.6): which Action a request is, its body rules and rewrite, and
//! `asset://` URIs in task content.

pub mod action;
pub mod body;
pub mod uri;

pub use action::{parse_action, Action};
pub use body::{filter_list_items, parse_asset_request, rewrite_action_response, AssetRequest};
