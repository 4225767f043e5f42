//! The daemon over real HTTP on 127.0.0.1: the token on every API route,
//! the `Host` check, the body limit, the SSE stream (1,000 events at full
//! speed to two clients, and a resume by `Last-Event-ID`), the landing
//! page's cookie, a missing project, and the OpenAPI document's drift.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tdd_engine::registry::Registry;
use tdd_engine::store::Store;
use tdd_http::{AppState, api};

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Daemon {
    base: String,
    host: String,
    project: String,
    root: PathBuf,
    client: reqwest::Client,
}

fn temp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("http-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A daemon on an ephemeral port with one registered project (an empty
/// store) and one registered directory that is then removed.
async fn daemon(name: &str) -> Daemon {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = temp(name);
    let root = dir.join("project");
    std::fs::create_dir_all(root.join(".tdd")).unwrap();
    Store::open(root.join(".tdd/orchestrator.db")).unwrap();
    let registry = Registry::at(dir.join("projects.json"));
    let project = registry.add(&root).unwrap().id;
    let gone = dir.join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    registry.add(&gone).unwrap();
    std::fs::remove_dir_all(&gone).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(TOKEN.to_string(), registry, addr);
    tokio::spawn(async move { axum::serve(listener, tdd_http::router(state)).await });
    Daemon {
        base: format!("http://{addr}"),
        host: addr.to_string(),
        project,
        root,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl Daemon {
    fn url(&self, path: &str) -> String {
        let path = path
            .replace("{id}", &self.project)
            .replace("{*key}", "REQ-1/AC-1.1");
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
    }
}

fn append_events(root: &Path, count: usize) {
    let mut store = Store::open(root.join(".tdd/orchestrator.db")).unwrap();
    for n in 0..count {
        store
            .write(|tx| tx.append_event("tick", None, None, json!({ "n": n })))
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_refuses_a_missing_or_wrong_token() {
    let d = daemon("auth").await;
    let mut checked = 0;
    for endpoint in api::ENDPOINTS {
        let request = |token: Option<&str>| {
            let url = d.url(endpoint.path);
            let mut r = match endpoint.method {
                "get" => d.client.get(url),
                _ => d.client.post(url).json(&json!({})),
            };
            if let Some(token) = token {
                r = r.bearer_auth(token);
            }
            r
        };
        let without = request(None).send().await.unwrap();
        let wrong = request(Some(&TOKEN.replace('0', "1")))
            .send()
            .await
            .unwrap();
        let right = request(Some(TOKEN)).send().await.unwrap();
        if endpoint.auth {
            assert_eq!(
                without.status(),
                401,
                "{} {}",
                endpoint.method,
                endpoint.path
            );
            let body: Value = without.json().await.unwrap();
            assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
            assert_eq!(wrong.status(), 401, "{} {}", endpoint.method, endpoint.path);
            checked += 1;
        } else {
            assert_eq!(without.status(), 200, "{}", endpoint.path);
        }
        // With the token, the route exists (whatever the request's merit).
        assert!(
            ![401, 404, 405].contains(&right.status().as_u16()) || endpoint.path.contains("{*key}"),
            "{} {} answered {}",
            endpoint.method,
            endpoint.path,
            right.status()
        );
    }
    assert!(checked >= 15, "{checked}");
    // Not a route at all: 404 with the token, 401 without under /api.
    let unknown = d.get("/api/v1/nothing").await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_header_is_refused() {
    let d = daemon("host").await;
    for host in ["evil.example:8420", "evil.example", "127.0.0.2:1"] {
        let response = d
            .client
            .get(d.url("/api/v1/projects"))
            .bearer_auth(TOKEN)
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{host}");
    }
    let localhost = d.host.replace("127.0.0.1", "localhost");
    let ok = d
        .client
        .get(d.url("/api/v1/projects"))
        .bearer_auth(TOKEN)
        .header("host", localhost)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // No CORS by default: nothing invites another origin in.
    assert!(ok.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_megabyte_upload_is_413_with_a_clear_message() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let d = daemon("limit").await;
    // What a client that waits for the verdict before sending sees: the
    // headers announce 10 MB, the answer comes before any of it is read.
    let mut socket = tokio::net::TcpStream::connect(&d.host).await.unwrap();
    let head = format!(
        "POST /api/v1/projects/{}/preview HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        d.project,
        d.host,
        10 * 1024 * 1024
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("1024 KiB"), "{answer}");

    // A body without a length (chunked) is cut off at the limit too.
    use tower::ServiceExt;
    let registry = Registry::at(d.root.join("../projects.json"));
    let addr: std::net::SocketAddr = d.host.parse().unwrap();
    let app = tdd_http::router(AppState::new(TOKEN.to_string(), registry, addr));
    let text = "x".repeat(10 * 1024 * 1024);
    let body = json!({ "path": "big.prd.md", "text": text })
        .to_string()
        .into_bytes();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let request = axum::http::Request::post(format!("/api/v1/projects/{}/preview", d.project))
        .header("host", &d.host)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from_stream(futures_util::stream::iter(
            chunks,
        )))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 413);
}

/// Reads one SSE client until it has an event with `seq >= last`; returns
/// every `id` seen, in order, checking each `data` carries the same `seq`.
async fn read_sse(response: reqwest::Response, last: i64) -> Vec<i64> {
    let mut response = response;
    let mut buffer = String::new();
    let mut ids = Vec::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(20), response.chunk())
            .await
            .expect("the stream stalled")
            .unwrap()
            .expect("the stream ended");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().parse::<i64>().unwrap());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str::<Value>(v.trim()).unwrap());
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                assert_eq!(data["seq"], json!(id));
                ids.push(id);
                if id >= last {
                    return ids;
                }
            }
        }
    }
}

async fn subscribe(d: &Daemon, last_event_id: Option<i64>) -> reqwest::Response {
    let mut request = d
        .client
        .get(d.url("/api/v1/projects/{id}/events"))
        .bearer_auth(TOKEN)
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_delivers_a_thousand_events_once_each_to_two_clients_and_resumes() {
    let d = daemon("sse").await;
    append_events(&d.root, 10);
    let first = subscribe(&d, None).await;
    let second = subscribe(&d, Some(3)).await;
    let root = d.root.clone();
    let writer = std::thread::spawn(move || append_events(&root, 1000));
    let (a, b) = tokio::join!(read_sse(first, 1010), read_sse(second, 1010));
    writer.join().unwrap();
    assert_eq!(a, (1..=1010).collect::<Vec<_>>());
    assert_eq!(b, (4..=1010).collect::<Vec<_>>());
    // A client that dropped after 700 resumes exactly after it.
    let resumed = read_sse(subscribe(&d, Some(700)).await, 1010).await;
    assert_eq!(resumed, (701..=1010).collect::<Vec<_>>());
    // The JSON form pages the same log.
    let page: Value = d
        .get("/api/v1/projects/{id}/events?after=1000&limit=5")
        .await
        .json()
        .await
        .unwrap();
    let seqs: Vec<i64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1001, 1002, 1003, 1004, 1005]);
    assert_eq!(page["last_seq"], 1010);
    let bad = d
        .client
        .get(d.url("/api/v1/projects/{id}/events"))
        .bearer_auth(TOKEN)
        .header("accept", "text/event-stream")
        .header("last-event-id", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_url_sets_a_cookie_that_authorises_the_browser() {
    let d = daemon("cookie").await;
    let wrong = d
        .client
        .get(format!("{}/?token=nope", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let opened = d
        .client
        .get(format!("{}/?token={TOKEN}", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 303);
    assert_eq!(opened.headers()["location"], "/");
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let page = d
        .client
        .get(format!("{}/", d.base))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let api = d
        .client
        .get(d.url("/api/v1/projects"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_its_assets_the_embed_and_the_badge_need_the_token() {
    let d = daemon("dashboard").await;
    let get = |path: String, token: Option<&str>| {
        let mut request = d.client.get(format!("{}{path}", d.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    // The page is the panel's bundle, and names its hashed assets.
    let page = get("/".into(), Some(TOKEN)).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<div id=\"root\">"), "{html}");
    let script = html
        .split('"')
        .find(|part| part.starts_with("./assets/") && part.ends_with(".js"))
        .unwrap_or_else(|| panic!("no script in {html}"))
        .trim_start_matches('.')
        .to_string();
    let asset = get(script.clone(), Some(TOKEN)).await.unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(
        asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let missing = get("/assets/nothing.js".into(), Some(TOKEN)).await.unwrap();
    assert_eq!(missing.status(), 404);

    let embed = get(format!("/embed/{}", d.project), Some(TOKEN))
        .await
        .unwrap();
    assert_eq!(embed.status(), 303);
    assert_eq!(
        embed.headers()["location"],
        format!("/#/p/{}/embed", d.project).as_str()
    );
    let badge = get(format!("/badge/{}.svg", d.project), Some(TOKEN))
        .await
        .unwrap();
    assert_eq!(badge.status(), 200);
    assert_eq!(badge.headers()["content-type"], "image/svg+xml");
    let svg = badge.text().await.unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("no tasks"), "{svg}");
    assert_eq!(
        get("/badge/nope.svg".into(), Some(TOKEN))
            .await
            .unwrap()
            .status(),
        404
    );

    for path in [
        script,
        format!("/embed/{}", d.project),
        format!("/badge/{}.svg", d.project),
    ] {
        let without = get(path.clone(), None).await.unwrap();
        assert_eq!(without.status(), 401, "{path}");
        let wrong = get(path.clone(), Some("wrong")).await.unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_whose_directory_is_gone_is_listed_as_missing() {
    let d = daemon("missing").await;
    let projects: Value = d.get("/api/v1/projects").await.json().await.unwrap();
    let list = projects.as_array().unwrap();
    assert_eq!(list.len(), 2, "{projects}");
    let gone = list
        .iter()
        .find(|p| p["missing"] == true)
        .expect("one missing");
    let here = list.iter().find(|p| p["missing"] == false).unwrap();
    assert_eq!(here["id"], d.project.as_str());
    let id = gone["id"].as_str().unwrap();
    let response = d.get(&format!("/api/v1/projects/{id}/snapshot")).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("is missing"),
        "{body}"
    );
    let snapshot: Value = d
        .get("/api/v1/projects/{id}/snapshot")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(snapshot["last_seq"], 0);
    let unknown = d.get("/api/v1/projects/feedface0000/snapshot").await;
    assert_eq!(unknown.status(), 404);
}

/// `schemas/openapi.json` is generated from the endpoint table. After
/// changing it: `UPDATE_SCHEMAS=1 cargo test -p tdd-http --test it api::`.
#[test]
fn the_openapi_document_is_current() {
    let generated = api::openapi();
    tdd_test_support::check_generated(
        "schemas/openapi.json",
        &generated,
        "cargo test -p tdd-http --test it api::",
    );
    let document: Value = serde_json::from_str(&generated).unwrap();
    for endpoint in api::ENDPOINTS {
        let path = endpoint.path.replace("{*key}", "{key}");
        assert!(
            document["paths"][&path][endpoint.method].is_object(),
            "{} {path}",
            endpoint.method
        );
    }
}
