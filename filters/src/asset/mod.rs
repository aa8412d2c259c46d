//! The asset library: which Action a request names ([`action`]), its body and the
//! answer's rewriting ([`body`]), and `asset://` URIs in task content ([`uri`]). The shell does
//! the ownership look-ups and the signing; everything here is pure.

pub mod action;
pub mod body;
pub mod uri;

pub use action::{parse_action, Action};
pub use body::{filter_list_items, parse_asset_request, rewrite_action_response, AssetRequest};
