//! Criterion benches of the pure filters on the request path: create-task validation and
//! rewrite (small and with a 512 KiB inline image), callback URL syntax and the address
//! classifier, the task response rewrite (through a tree, and from the bytes as a GET does it),
//! and list-query parsing.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use seedance_filters::callback::{check_url, ip_policy::classify};
use seedance_filters::task::{parse_create, parse_list_query, rewrite_task, rewrite_task_answer};
use serde_json::json;
use std::hint::black_box;

fn create_bodies() -> (Vec<u8>, Vec<u8>) {
    let small = json!({
        "model": "dreamina-seedance-2-0-fast",
        "content": [{"type": "text", "text": "A quiet cinematic shot of a paper boat"}],
        "duration": 4, "ratio": "16:9", "resolution": "480p", "generate_audio": false,
        "callback_url": "https://example.com/volcark/callback", "priority": 0
    })
    .to_string()
    .into_bytes();
    let image = format!("data:image/png;base64,{}", "A".repeat(512 * 1024));
    let large = json!({
        "model": "dreamina-seedance-2-0",
        "content": [{"type": "text", "text": "use image 1"}, {"type": "image_url", "role": "first_frame", "image_url": {"url": image}}],
        "duration": 5, "resolution": "720p"
    })
    .to_string()
    .into_bytes();
    (small, large)
}

fn bench_create(c: &mut Criterion) {
    let (small, large) = create_bodies();
    let mut g = c.benchmark_group("create_task");
    g.throughput(Throughput::Bytes(small.len() as u64));
    g.bench_function("parse+rewrite small", |b| {
        b.iter(|| {
            let t = parse_create(black_box(&small)).expect("valid");
            black_box(t.upstream_body("dreamina-seedance-2-0-fast-260128"))
        })
    });
    g.throughput(Throughput::Bytes(large.len() as u64));
    g.bench_function("parse+rewrite 512KiB inline image", |b| {
        b.iter(|| {
            let t = parse_create(black_box(&large)).expect("valid");
            black_box(t.upstream_body("dreamina-seedance-2-0-260128"))
        })
    });
    g.finish();
}

fn bench_callback(c: &mut Criterion) {
    let url = json!("https://hooks.example.com/volcark/callback?x=1");
    c.bench_function("callback check_url", |b| b.iter(|| black_box(check_url("callback_url", black_box(&url), false))));
    let addrs: Vec<std::net::IpAddr> =
        ["93.184.216.34", "10.1.2.3", "2606:4700:4700::1111", "fd00::1", "::ffff:127.0.0.1"]
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
    c.bench_function("classify 5 addresses", |b| {
        b.iter(|| {
            for a in &addrs {
                black_box(classify(*a));
            }
        })
    });
}

fn bench_response(c: &mut Criterion) {
    let task = json!({"id":"cgt-20260611204121-462cw","model":"dreamina-seedance-2-0-fast-260128","status":"succeeded",
        "content":{"video_url":"https://x/v.mp4","last_frame_url":"https://x/f.png"},"usage":{"completion_tokens":40594,"total_tokens":40594},
        "created_at":1781181681,"updated_at":1781181802,"seed":74719,"resolution":"480p","ratio":"16:9","duration":4,
        "framespersecond":24,"service_tier":"default","execution_expires_after":3600,"generate_audio":false,"draft":false,
        "safety_identifier":"user-hash-001","priority":0});
    c.bench_function("rewrite_task", |b| {
        b.iter_batched(
            || task.clone(),
            |mut t| rewrite_task(&mut t, "dreamina-seedance-2-0-fast"),
            BatchSize::SmallInput,
        )
    });
    // A GET's whole answer path, upstream bytes to customer bytes: through a tree, and as the
    // edge does it (from the bytes, plus what billing reads).
    let body = task.to_string().into_bytes();
    let mut g = c.benchmark_group("get_answer");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("tree: parse, rewrite, serialize", |b| {
        b.iter(|| {
            let mut t: serde_json::Value = serde_json::from_slice(black_box(&body)).expect("json");
            rewrite_task(&mut t, "dreamina-seedance-2-0-fast");
            black_box(serde_json::to_vec(&t).expect("serialize"))
        })
    });
    g.bench_function("bytes: rewrite_task_answer", |b| {
        b.iter(|| black_box(rewrite_task_answer(black_box(&body), "dreamina-seedance-2-0-fast")))
    });
    g.finish();
    let q = "page_num=2&page_size=50&filter.status=succeeded&filter.model=dreamina-seedance-2-0-fast-260128&filter.task_ids=cgt-1,cgt-2,cgt-3";
    c.bench_function("parse_list_query", |b| b.iter(|| black_box(parse_list_query(Some(black_box(q))))));
}

criterion_group!(benches, bench_create, bench_callback, bench_response);
criterion_main!(benches);
