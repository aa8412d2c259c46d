//! A loopback DNS responder for the callback-URL tests: a zone with one name per
//! callback-URL case (public, private, CNAME to private, mixed A/AAAA), on UDP and TCP of one free port. Hand-encoded wire format (A,
//! AAAA and CNAME answers are a few bytes each), so the stub shares no code with the resolver
//! under test. Every query is logged for assertions ("asked A and AAAA for the FQDN").
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const A: u16 = 1;
const CNAME: u16 = 5;
const AAAA: u16 = 28;
const NOERROR: u8 = 0;
const SERVFAIL: u8 = 2;
const NXDOMAIN: u8 = 3;
const PUBLIC4: &str = "93.184.216.34";
const PUBLIC6: &str = "2606:2800:220:1:248:1893:25c8:1946";

/// What the stub does for one (name, type).
enum Answer {
    Records(Vec<IpAddr>, u32),
    Cname(&'static str, Vec<IpAddr>),
    Rcode(u8),
    Drop,
    Delay(Duration, Vec<IpAddr>),
    Truncated(Vec<IpAddr>),
}

struct Shared {
    queries: Mutex<Vec<(String, u16)>>,
    rebind: AtomicU64,
    stop: AtomicBool,
}

pub struct DnsStub {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().expect("zone address")).collect()
}

/// The zone. Names are lowercase FQDNs; everything not listed is NXDOMAIN.
fn answer(shared: &Shared, name: &str, qtype: u16) -> Answer {
    let (a, aaaa): (&[&str], &[&str]) = match name {
        "public.example." => (&[PUBLIC4], &[]),
        "public6.example." => (&[], &[PUBLIC6]),
        "dual.example." => (&[PUBLIC4], &[PUBLIC6]),
        "loopback.example." => (&["127.0.0.1"], &[]),
        "private.example." => (&["10.1.2.3"], &[]),
        "mixed.example." => (&[PUBLIC4, "192.168.1.10"], &[]),
        "mixed6.example." => (&[PUBLIC4], &["fd00::1"]),
        "v6only-private.example." => (&[], &["fe80::1"]),
        "metadata.example." => (&["169.254.169.254"], &[]),
        "cgnat.example." => (&["100.64.0.7"], &[]),
        "doc.example." => (&["192.0.2.10"], &[]),
        "bench.example." => (&["198.18.0.5"], &[]),
        "mcast.example." => (&["239.1.2.3"], &["ff05::1"]),
        "v4mapped.example." => (&[], &["::ffff:127.0.0.1"]),
        "compat.example." => (&[], &["::7f00:1"]),
        "nat64.example." => (&[], &["64:ff9b::a00:1"]),
        "sixtofour.example." => (&[], &["2002:c0a8:101::1"]),
        "teredo.example." => (&[], &["2001:0:4136:e378:8000:63bf:3f57:fdf2"]),
        "ula.example." => (&[], &["fd12:3456::1"]),
        "sitelocal.example." => (&[], &["fec0::1"]),
        "norecords.example." => (&[], &[]),
        "cname.example." => {
            return match qtype {
                A => Answer::Cname("private.example.", ips(&["10.1.2.3"])),
                _ => Answer::Cname("private.example.", vec![]),
            }
        }
        "aaaa-servfail.example." => {
            return if qtype == AAAA { Answer::Rcode(SERVFAIL) } else { Answer::Records(ips(&[PUBLIC4]), 300) }
        }
        "aaaa-timeout.example." => {
            return if qtype == AAAA { Answer::Drop } else { Answer::Records(ips(&[PUBLIC4]), 300) }
        }
        "servfail.example." => return Answer::Rcode(SERVFAIL),
        // Channel hosts (tests/it/upstream_dns.rs): two addresses of which only 127.0.0.1 serves,
        // and a short TTL that must expire.
        "ark-multi.test." => {
            return Answer::Records(if qtype == A { ips(&["127.0.0.2", "127.0.0.1"]) } else { vec![] }, 300)
        }
        "ark-short.test." => return Answer::Records(if qtype == A { ips(&["127.0.0.1"]) } else { vec![] }, 1),
        "slow.example." => {
            return Answer::Delay(Duration::from_millis(1500), if qtype == A { ips(&[PUBLIC4]) } else { vec![] })
        }
        "rebind.example." => {
            if qtype != A {
                return Answer::Records(vec![], 0);
            }
            // Alternates per A query, TTL 0: a cache that kept the public answer would hide it.
            let n = shared.rebind.fetch_add(1, Ordering::SeqCst);
            return Answer::Records(ips(&[if n.is_multiple_of(2) { PUBLIC4 } else { "127.0.0.1" }]), 0);
        }
        "big.example." => {
            return if qtype == A {
                Answer::Truncated((1..=40).map(|i| IpAddr::from([93, 184, 216, i as u8])).collect())
            } else {
                Answer::Records(vec![], 300)
            }
        }
        _ => return Answer::Rcode(NXDOMAIN),
    };
    let list = if qtype == A {
        a
    } else if qtype == AAAA {
        aaaa
    } else {
        &[]
    };
    Answer::Records(ips(list), 300)
}

/// (lowercase name with trailing dot, qtype, end of question) of a query message.
fn parse_question(msg: &[u8]) -> Option<(String, u16, usize)> {
    let mut i = 12;
    let mut name = String::new();
    loop {
        let len = *msg.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        name.push_str(&String::from_utf8_lossy(msg.get(i..i + len)?).to_ascii_lowercase());
        name.push('.');
        i += len;
    }
    let qtype = u16::from_be_bytes([*msg.get(i)?, *msg.get(i + 1)?]);
    Some((if name.is_empty() { ".".into() } else { name }, qtype, i + 4))
}

fn encode_name(name: &str, out: &mut Vec<u8>) {
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

fn record(out: &mut Vec<u8>, owner: Option<&str>, rtype: u16, ttl: u32, rdata: &[u8]) {
    match owner {
        None => out.extend_from_slice(&[0xc0, 12]), // pointer to the question name
        Some(n) => encode_name(n, out),
    }
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

fn addr_records(out: &mut Vec<u8>, owner: Option<&str>, qtype: u16, addrs: &[IpAddr], ttl: u32) -> u16 {
    let mut n = 0;
    for ip in addrs {
        match (ip, qtype) {
            (IpAddr::V4(a), A) => record(out, owner, A, ttl, &a.octets()),
            (IpAddr::V6(a), AAAA) => record(out, owner, AAAA, ttl, &a.octets()),
            _ => continue,
        }
        n += 1;
    }
    n
}

/// The reply to `query`, or `None` to stay silent.
fn respond(shared: &Shared, query: &[u8], over_tcp: bool) -> Option<(Vec<u8>, Option<Duration>)> {
    let (name, qtype, qend) = parse_question(query)?;
    if let Ok(mut q) = shared.queries.lock() {
        q.push((name.clone(), qtype));
    }
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[..2]);
    let rd = query[2] & 0x01;
    out.extend_from_slice(&[0x84 | rd, 0x80]); // QR, AA, RD echoed; RA
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&query[12..qend]);
    let (rcode, count, delay, truncated) = match answer(shared, &name, qtype) {
        Answer::Drop => return None,
        Answer::Rcode(r) => (r, 0, None, false),
        Answer::Records(addrs, ttl) => (NOERROR, addr_records(&mut out, None, qtype, &addrs, ttl), None, false),
        Answer::Delay(d, addrs) => (NOERROR, addr_records(&mut out, None, qtype, &addrs, 300), Some(d), false),
        Answer::Cname(target, addrs) => {
            let mut rdata = Vec::new();
            encode_name(target, &mut rdata);
            record(&mut out, None, CNAME, 300, &rdata);
            (NOERROR, 1 + addr_records(&mut out, Some(target), qtype, &addrs, 300), None, false)
        }
        Answer::Truncated(addrs) if over_tcp => {
            (NOERROR, addr_records(&mut out, None, qtype, &addrs, 300), None, false)
        }
        Answer::Truncated(_) => (NOERROR, 0, None, true),
    };
    out[3] |= rcode;
    if truncated {
        out[2] |= 0x02;
    }
    out[6..8].copy_from_slice(&count.to_be_bytes());
    Some((out, delay))
}

impl DnsStub {
    pub fn start() -> DnsStub {
        // UDP and TCP on the same port: bind UDP on a free port, then TCP on it (retry on a clash).
        let (udp, tcp) = (0..20)
            .find_map(|_| {
                let udp = UdpSocket::bind("127.0.0.1:0").ok()?;
                let tcp = TcpListener::bind(udp.local_addr().ok()?).ok()?;
                Some((udp, tcp))
            })
            .expect("a free port for UDP and TCP");
        let addr = udp.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            queries: Mutex::new(Vec::new()),
            rebind: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        udp.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
        let s = shared.clone();
        std::thread::spawn(move || {
            let udp = Arc::new(udp);
            let mut buf = [0u8; 1500];
            while !s.stop.load(Ordering::Relaxed) {
                let Ok((n, peer)) = udp.recv_from(&mut buf) else { continue };
                let Some((reply, delay)) = respond(&s, &buf[..n], false) else { continue };
                match delay {
                    None => {
                        let _ = udp.send_to(&reply, peer);
                    }
                    Some(d) => {
                        let udp = udp.clone();
                        std::thread::spawn(move || {
                            std::thread::sleep(d);
                            let _ = udp.send_to(&reply, peer);
                        });
                    }
                }
            }
        });
        tcp.set_nonblocking(true).expect("nonblocking");
        let s = shared.clone();
        std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                match tcp.accept() {
                    Ok((mut conn, _)) => {
                        let s = s.clone();
                        std::thread::spawn(move || {
                            let _ = conn.set_nonblocking(false);
                            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                            let mut len = [0u8; 2];
                            while conn.read_exact(&mut len).is_ok() {
                                let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
                                if conn.read_exact(&mut msg).is_err() {
                                    break;
                                }
                                if let Some((reply, _)) = respond(&s, &msg, true) {
                                    let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                                    framed.extend_from_slice(&reply);
                                    if conn.write_all(&framed).is_err() {
                                        break;
                                    }
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        DnsStub { addr, shared }
    }

    /// `ip:port` for `dns.nameservers`.
    pub fn nameserver(&self) -> String {
        self.addr.to_string()
    }

    /// Every query received: (lowercase name with its trailing dot, qtype), in order.
    pub fn queries(&self) -> Vec<(String, u16)> {
        self.shared.queries.lock().map(|q| q.clone()).unwrap_or_default()
    }
}

impl Drop for DnsStub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}
