//! `seedance-edge demo`: the embedded default — memory store, an in-process fake-ark that
//! finishes tasks after a few seconds, one demo tenant with a freshly issued token — and the
//! curl lines that exercise it. Nothing here is meant for production.

use crate::config::Config;
use crate::server::StartupError;
use crate::store::memory::MemoryStore;
use std::sync::Arc;

/// The demo configuration; `${DEMO_UPSTREAM}` is the in-process fake-ark.
pub const DEMO_YAML: &str = include_str!("../conf/demo.yaml");
const DEMO_API_KEY: &str = "demo-channel-key";
const DEMO_AK: &str = "AKDEMO";
const DEMO_SK: &str = "SKDEMO-not-a-secret";

pub struct DemoArgs {
    pub listen: String,
    pub admin: String,
}

/// Runs the demo until interrupted.
pub fn run(args: DemoArgs) -> Result<(), StartupError> {
    // fake-ark needs a runtime that lives as long as the process; Pingora's services each build
    // their own, so the simulator gets a dedicated one on its own thread.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(StartupError::Runtime)?;
    let cfg = fake_ark::FakeArkConfig {
        api_keys: vec![DEMO_API_KEY.to_string()],
        credentials: vec![(DEMO_AK.to_string(), DEMO_SK.to_string())],
        queued_ms: Some(2000),
        running_ms: Some(4000),
        ..fake_ark::FakeArkConfig::default()
    };
    let fake = rt.block_on(fake_ark::FakeArk::start(cfg)).map_err(StartupError::Simulator)?;
    let upstream = fake.base_url();
    std::thread::spawn(move || {
        // The simulator lives as long as this thread, which lives as long as the process.
        let _fake = fake;
        rt.block_on(std::future::pending::<()>());
    });

    let listen = args.listen.clone();
    let admin = args.admin.clone();
    let env = move |name: &str| match name {
        "DEMO_UPSTREAM" => Some(upstream.clone()),
        "DEMO_LISTEN" => Some(listen.clone()),
        "DEMO_ADMIN" => Some(admin.clone()),
        "DEMO_API_KEY" => Some(DEMO_API_KEY.to_string()),
        "DEMO_AK" => Some(DEMO_AK.to_string()),
        "DEMO_SK" => Some(DEMO_SK.to_string()),
        _ => None,
    };
    let mut config = Config::from_yaml(DEMO_YAML, &env)?;
    let token = crate::auth::issue_token();
    if let Some(t) = config.tenants.first_mut() {
        t.token_sha256.push(crate::auth::token_sha256(&token));
    }
    let edge = crate::server::build_edge(config, Arc::new(MemoryStore::new()), None)?;
    let server = crate::server::build_server(edge)?;
    print_banner(&args, &token);
    server.run_forever()
}

/// The asset-library walk-through, printed by the demo and quoted verbatim in the README (a test
/// keeps the two equal and runs these lines against the demo). The asset URL is an IP literal so
/// the demo needs no DNS.
pub const ASSET_LINES: &str = r#"# asset library: a group, an image in it, then a task that uses it
A="$BASE_URL/volcark/?Version=2024-01-01&Action"
GROUP=$(curl -s -X POST "$A=CreateAssetGroup" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"model":"dreamina-seedance-2-0-fast","Name":"campaign-product-shots","GroupType":"AIGC"}' | grep -o 'group-[a-z0-9-]*')
ASSET=$(curl -s -X POST "$A=CreateAsset" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"model":"dreamina-seedance-2-0-fast","GroupId":"'"$GROUP"'","URL":"https://93.184.216.34/product.png","AssetType":"Image"}' | grep -o 'asset-[a-z0-9-]*')
curl -s -X POST "$A=GetAsset" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"model":"dreamina-seedance-2-0-fast","Id":"'"$ASSET"'"}'
curl -s -X POST "$A=ListAssets" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"model":"dreamina-seedance-2-0-fast","Filter":{"GroupId":"'"$GROUP"'"}}'
curl -s -X POST "$BASE_URL/volcark/api/v3/contents/generations/tasks" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"model":"dreamina-seedance-2-0-fast","content":[{"type":"text","text":"Move the camera forward."},{"type":"image_url","role":"reference_image","image_url":{"url":"asset://'"$ASSET"'"}}],"duration":4,"resolution":"480p"}'"#;

/// The banner's last line, so a reader (or a test) knows the lines are complete.
pub const END_MARKER: &str = "# (end of demo lines)";

fn print_banner(args: &DemoArgs, token: &str) {
    let base = format!("http://{}", args.listen);
    println!(
        r#"
seedance-edge demo — memory store, in-process fake BytePlus (tasks finish after ~6 s)
  proxy  {base}
  admin  http://{admin}/metrics  /healthz  /readyz

export BASE_URL="{base}"
export TOKEN="{token}"

# create a task
curl -s -X POST "$BASE_URL/volcark/api/v3/contents/generations/tasks" \
  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{{"model":"dreamina-seedance-2-0-fast","content":[{{"type":"text","text":"A paper boat on calm water"}}],"duration":4,"ratio":"16:9","resolution":"480p"}}'

# query it (replace cgt-... with the id above); after ~6 s it is "succeeded" and billed once
curl -s "$BASE_URL/volcark/api/v3/contents/generations/tasks/cgt-..." -H "Authorization: Bearer $TOKEN"

# list your tasks
curl -s "$BASE_URL/volcark/api/v3/contents/generations/tasks?page_num=1&page_size=20" -H "Authorization: Bearer $TOKEN"
"#,
        admin = args.admin
    );
    println!("{ASSET_LINES}\n\n{END_MARKER}");
}
