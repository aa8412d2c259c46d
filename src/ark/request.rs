//! What a route asks of a channel, as one value: the [`UpstreamRequest`]. Routes say *what* to
//! ask (which exchange, path, query, body); the client decides *how* (endpoint, credentials,
//! signature, headers) from the channel it is sent to. The signer reads the same value, so what
//! is signed is what is sent.

use super::Endpoint;
use bytes::Bytes;

/// Which kind of upstream exchange: the `route` label of the upstream metrics, and which API of
/// the channel answers it (the task API with the API key, or the signed asset Actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamRoute {
    Create,
    Get,
    List,
    Delete,
    Action,
}

impl UpstreamRoute {
    pub fn label(self) -> &'static str {
        match self {
            UpstreamRoute::Create => "create",
            UpstreamRoute::Get => "get",
            UpstreamRoute::List => "list",
            UpstreamRoute::Delete => "delete",
            UpstreamRoute::Action => "action",
        }
    }
}

/// The methods the edge sends upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One request to a channel, before the channel's endpoint and credentials are applied.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub route: UpstreamRoute,
    pub method: Method,
    /// Below the endpoint's base path; starts with '/'.
    pub path: String,
    /// Unencoded pairs, in the order they go on the wire (the signer sorts its own copy).
    pub query: Vec<(&'static str, String)>,
    pub content_type: &'static str,
    pub body: Option<Bytes>,
}

pub const JSON: &str = "application/json";

impl UpstreamRequest {
    /// An exchange with the task API.
    pub fn task(route: UpstreamRoute, method: Method, path: impl Into<String>) -> UpstreamRequest {
        UpstreamRequest { route, method, path: path.into(), query: Vec::new(), content_type: JSON, body: None }
    }

    /// An asset Action: always `POST /?Action=…&Version=…` with a JSON body, signed.
    pub fn action(name: &str, version: &str, body: Bytes) -> UpstreamRequest {
        UpstreamRequest {
            route: UpstreamRoute::Action,
            method: Method::Post,
            path: "/".into(),
            query: vec![("Action", name.to_string()), ("Version", version.to_string())],
            content_type: JSON,
            body: Some(body),
        }
    }

    pub fn with_query(mut self, key: &'static str, value: impl Into<String>) -> UpstreamRequest {
        self.query.push((key, value.into()));
        self
    }

    pub fn with_body(mut self, body: Bytes) -> UpstreamRequest {
        self.body = Some(body);
        self
    }

    /// The request target on `endpoint` (its base path, then ours), the query RFC 3986-encoded.
    pub fn target(&self, endpoint: &Endpoint) -> String {
        let mut out = endpoint.path(&self.path);
        for (i, (k, v)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(&super::sign::uri_encode(k));
            out.push('=');
            out.push_str(&super::sign::uri_encode(v));
        }
        out
    }

    /// The query as the signer takes it.
    pub(super) fn query_pairs(&self) -> Vec<(&str, &str)> {
        self.query.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    pub(super) fn body_bytes(&self) -> &[u8] {
        self.body.as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_encoded_in_the_order_given() {
        let ep = Endpoint::parse("https://h.example/p/", None).unwrap();
        let r = UpstreamRequest::task(UpstreamRoute::List, Method::Get, "/t")
            .with_query("page_num", "1")
            .with_query("filter.task_ids", "cgt-1_a")
            .with_query("note", "a b&c");
        assert_eq!(r.target(&ep), "/p/t?page_num=1&filter.task_ids=cgt-1_a&note=a%20b%26c");
        assert_eq!(UpstreamRequest::task(UpstreamRoute::Get, Method::Get, "/t").target(&ep), "/p/t");
        let a = UpstreamRequest::action("ListAssets", "2024-01-01", Bytes::from_static(b"{}"));
        let root = Endpoint::parse("https://h.example", None).unwrap();
        assert_eq!(a.target(&root), "/?Action=ListAssets&Version=2024-01-01");
    }
}
