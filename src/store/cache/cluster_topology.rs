//! Which nodes of a Redis Cluster the invalidation links must reach, and how to connect to
//! one: every master serving slots (read from `CLUSTER SLOTS`), spoken to with the URL's
//! TLS and credentials — the same ones the store's cluster client uses for every node.

use ::redis::{Client, ConnectionAddr, IntoConnectionInfo, ProtocolVersion, RedisConnectionInfo, RedisResult, Value};

/// A node's address as the cluster announces it.
pub type Addr = (String, u16);

/// The nodes a cluster URL names (asked for the topology) and how every node is spoken to.
/// No `Debug`: it holds the password.
#[derive(Clone)]
pub struct ClusterSeeds {
    pub nodes: Vec<Addr>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: bool,
}

impl ClusterSeeds {
    /// A RESP3 client of one node (tracking invalidations are push messages).
    pub fn client(&self, (host, port): &Addr) -> RedisResult<Client> {
        let addr = if self.tls {
            ConnectionAddr::TcpTls { host: host.clone(), port: *port, insecure: false, tls_params: None }
        } else {
            ConnectionAddr::Tcp(host.clone(), *port)
        };
        let mut redis = RedisConnectionInfo::default().set_protocol(ProtocolVersion::RESP3);
        if let Some(u) = &self.username {
            redis = redis.set_username(u);
        }
        if let Some(p) = &self.password {
            redis = redis.set_password(p);
        }
        Client::open(addr.into_connection_info()?.set_redis_settings(redis))
    }
}

/// The masters serving at least one slot, sorted and without repeats, from the reply of
/// `CLUSTER SLOTS` given by the node at `asked` (a node announcing an empty address means
/// "the address you reached me at").
pub fn masters_of(reply: &Value, asked: &str) -> Result<Vec<Addr>, String> {
    let Value::Array(ranges) = reply else { return Err("CLUSTER SLOTS: not an array".into()) };
    let mut masters = Vec::new();
    for range in ranges {
        // [first slot, last slot, master, replicas…]; a node is [endpoint, port, id, …].
        let master = match range {
            Value::Array(r) => r.get(2),
            _ => None,
        };
        let Some(Value::Array(node)) = master else { return Err("CLUSTER SLOTS: a range without a master".into()) };
        let host = match node.first() {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(Value::SimpleString(s)) => s.clone(),
            _ => return Err("CLUSTER SLOTS: a master without an endpoint".into()),
        };
        let host = match host.as_str() {
            "" => asked.to_string(),
            "?" => return Err("CLUSTER SLOTS: a master's endpoint is unknown".into()),
            _ => host,
        };
        let port = match node.get(1) {
            Some(Value::Int(p)) => u16::try_from(*p).map_err(|_| format!("CLUSTER SLOTS: port {p}"))?,
            _ => return Err("CLUSTER SLOTS: a master without a port".into()),
        };
        masters.push((host, port));
    }
    masters.sort();
    masters.dedup();
    Ok(masters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, port: i64, id: &str) -> Value {
        Value::Array(vec![
            Value::BulkString(host.as_bytes().to_vec()),
            Value::Int(port),
            Value::BulkString(id.as_bytes().to_vec()),
            Value::Map(vec![]),
        ])
    }

    fn range(lo: i64, hi: i64, nodes: Vec<Value>) -> Value {
        Value::Array([vec![Value::Int(lo), Value::Int(hi)], nodes].concat())
    }

    #[test]
    fn the_masters_are_the_first_node_of_each_range() {
        let reply = Value::Array(vec![
            range(0, 5460, vec![node("10.0.0.2", 7001, "b"), node("10.0.0.5", 7004, "e")]),
            range(5461, 10922, vec![node("", 7000, "a")]),
            range(10923, 16000, vec![node("10.0.0.3", 7002, "c")]),
            range(16001, 16383, vec![node("10.0.0.2", 7001, "b")]),
        ]);
        assert_eq!(
            masters_of(&reply, "seed.example").unwrap(),
            [("10.0.0.2".to_string(), 7001), ("10.0.0.3".to_string(), 7002), ("seed.example".to_string(), 7000)]
        );
        assert_eq!(masters_of(&Value::Array(vec![]), "x").unwrap(), []);
    }

    #[test]
    fn an_unknown_endpoint_or_a_malformed_reply_is_refused() {
        assert!(masters_of(&Value::Array(vec![range(0, 1, vec![node("?", 7000, "a")])]), "x").is_err());
        assert!(masters_of(&Value::Array(vec![range(0, 1, vec![])]), "x").is_err());
        assert!(masters_of(&Value::Nil, "x").is_err());
    }
}
