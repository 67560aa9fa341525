//! The SDK ingest API of a real runner process: every answer, decoder and limit of the contract.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{batch, dump, gzip, Runner, TempDir, KEY};

fn runner(extra: &str) -> (TempDir, Runner) {
    let dir = TempDir::new("ingest");
    let runner = Runner::start(&dir.path().join("data"), extra);
    (dir, runner)
}

fn assert_error(response: &common::Response, status: u16, code: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.code(), code, "{}", response.text());
    assert!(response.json()["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[test]
fn answers_202_with_the_event_count_once_stored() {
    let (_dir, runner) = runner("");
    let response = runner.post(&batch("s-202", 1, 3), &[]);
    assert_eq!(response.status, 202, "{}", response.text());
    assert_eq!(response.json(), serde_json::json!({"accepted": 4}));
    let data = runner.data_dir.clone();
    assert!(runner.stop().success());
    assert_eq!(dump(&data), vec![("s-202".to_string(), 1)]);
}

#[test]
fn a_client_hanging_up_mid_request_is_no_longer_in_flight() {
    let (_dir, runner) = runner("");
    let in_flight = || runner.metric("traceflow_runner_ingest_in_flight");
    let mut stream = std::net::TcpStream::connect(runner.addr).unwrap();
    write!(
        stream,
        "POST /v1/batch HTTP/1.1\r\nhost: runner\r\nauthorization: Bearer {KEY}\r\ncontent-type: application/json\r\n\
         content-length: 100000\r\n\r\n{{\"session_id\":\"hang-up\","
    )
    .unwrap();
    stream.flush().unwrap();
    common::wait_until("the request to be in flight", Duration::from_secs(20), || in_flight() == 1.0);
    drop(stream);
    // Shutdown waits for in-flight requests: a leaked count would hold every SIGTERM for the whole grace period.
    common::wait_until("the abandoned request to leave the count", Duration::from_secs(20), || in_flight() == 0.0);
    assert!(runner.stop().success());
}

#[test]
fn answers_400_with_the_json_path_of_the_problem() {
    let (_dir, runner) = runner("");
    let bad = br#"{"session_id":"s","seq":1,"events":[{"type":"click","ts":1},{"type":"click","ts":"soon"}]}"#;
    let response = runner.post(bad, &[]);
    assert_error(&response, 400, "invalid_batch");
    assert_eq!(response.json()["error"]["path"], "$.events[1].ts");
    assert_error(&runner.post(b"{not json", &[]), 400, "invalid_json");
    assert_error(&runner.post(br#"{"session_id":"bad id!","seq":1,"events":[]}"#, &[]), 400, "invalid_batch");
    assert_error(&runner.post(b"\x1f\x8b\x08garbage", &[("content-encoding", "gzip")]), 400, "invalid_encoding");
}

#[test]
fn answers_401_without_or_with_an_unknown_key() {
    let (_dir, runner) = runner("");
    assert_error(&runner.post(&batch("s", 1, 1), &[("authorization", "")]), 401, "missing_key");
    assert_error(&runner.post(&batch("s", 1, 1), &[("authorization", "Bearer wrong-key-123")]), 401, "unknown_key");
}

#[test]
fn key_may_come_from_each_documented_place() {
    let (_dir, runner) = runner("");
    let bearer = runner.post(&batch("k", 1, 1), &[]);
    let header = runner.post(&batch("k", 2, 1), &[("authorization", ""), ("x-traceflow-key", KEY)]);
    let query = common::request(
        runner.addr,
        "POST",
        &format!("/v1/batch?key={KEY}"),
        &[("content-type", "text/plain")],
        &batch("k", 3, 1),
    );
    for response in [bearer, header, query] {
        assert_eq!(response.status, 202, "{}", response.text());
    }
}

#[test]
fn answers_403_to_an_origin_not_allowed() {
    let (_dir, runner) = runner("[cors]\nallowed_origins = [\"https://app.example.com\"]\n");
    let response = runner.post(&batch("s", 1, 1), &[("origin", "https://evil.example.com")]);
    assert_error(&response, 403, "origin_not_allowed");
    assert!(response.header("access-control-allow-origin").is_none());
}

#[test]
fn cors_preflight_and_headers() {
    let (_dir, runner) = runner("[cors]\nallowed_origins = [\"https://app.example.com\"]\nmax_age_secs = 600\n");
    let preflight = common::request(
        runner.addr,
        "OPTIONS",
        "/v1/batch",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type,x-traceflow-key"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert!(preflight.header("access-control-allow-methods").is_some_and(|m| m.contains("POST")));
    assert!(preflight
        .header("access-control-allow-headers")
        .is_some_and(|h| h.contains("x-traceflow-key") && h.contains("content-encoding")));
    assert_eq!(preflight.header("access-control-max-age"), Some("600"));
    let denied = common::request(
        runner.addr,
        "OPTIONS",
        "/v1/batch",
        &[("origin", "https://other.test"), ("access-control-request-method", "POST")],
        b"",
    );
    assert_eq!(denied.status, 403);
    let allowed = runner.post(&batch("s", 1, 1), &[("origin", "https://app.example.com")]);
    assert_eq!(allowed.status, 202);
    assert_eq!(allowed.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(allowed.header("vary"), Some("Origin"));
    // Errors carry CORS headers too, so browser SDKs can read them.
    let error = runner.post(b"{}", &[("origin", "https://app.example.com")]);
    assert_eq!(error.status, 400);
    assert_eq!(error.header("access-control-allow-origin"), Some("https://app.example.com"));
}

#[test]
fn answers_413_over_each_size_limit() {
    let limits = "[limits]\nmax_body_bytes = 1048576\nmax_decompressed_bytes = 2097152\nmax_compression_ratio = 20\nmax_events = 10\nmax_string_bytes = 4194304\n";
    let (_dir, runner) = runner(limits);
    let padding = "x".repeat(1_100_000);
    let big = format!(r#"{{"session_id":"s","seq":1,"events":[{{"type":"custom","ts":1,"p":"{padding}"}}]}}"#);
    assert_error(&runner.post(big.as_bytes(), &[]), 413, "body_too_large");
    // Without Content-Length the cap applies while streaming. Chunked upload through a raw socket:
    let mut stream = std::net::TcpStream::connect(runner.addr).unwrap();
    let head = format!("POST /v1/batch HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer {KEY}\r\ntransfer-encoding: chunked\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    for _ in 0..150 {
        if stream.write_all(format!("{:x}\r\n{}\r\n", 8192, "y".repeat(8192)).as_bytes()).is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let streamed = common::read_response(&mut stream).unwrap();
    assert_error(&streamed, 413, "body_too_large");
    // 3 MiB that compresses about 6 times: within the ratio, over the 2 MiB hard cap.
    let noise: String = (0..3 * 1024 * 1024).map(|_| ['a', 'b'][fastrand::usize(..2)]).collect();
    let large = format!(r#"{{"session_id":"s","seq":1,"events":[{{"type":"custom","ts":1,"p":"{noise}"}}]}}"#);
    let large = gzip(large.as_bytes());
    assert!(large.len() < 1048576);
    assert_error(&runner.post(&large, &[("content-encoding", "gzip")]), 413, "decompressed_too_large");
    // Under the hard cap but expanding far more than 20 times.
    let dense = format!(
        r#"{{"session_id":"s","seq":1,"events":[{{"type":"custom","ts":1,"p":"{}"}}]}}"#,
        "z".repeat(1536 * 1024)
    );
    assert_error(
        &runner.post(&gzip(dense.as_bytes()), &[("content-encoding", "gzip")]),
        413,
        "compression_ratio_too_high",
    );
    let response = runner.post(&batch("s", 1, 11), &[]);
    assert_error(&response, 413, "too_many_events");
    assert!(response.json()["error"]["path"].as_str().is_some_and(|p| p.starts_with("$.")));
    assert_eq!(runner.post(&batch("s", 1, 9), &[]).status, 202);
}

/// Past the depth limit, or with a key or contract field over the string limit, a batch is refused with the path;
/// one value over the string limit (an inlined stylesheet) costs that value only: the batch is stored without it,
/// the answer and a metric say so.
#[test]
fn answers_400_past_depth_and_drops_only_an_over_long_value() {
    let (_dir, runner) = runner("[limits]\nmax_depth = 5\nmax_string_bytes = 1000\n");
    let deep = br#"{"session_id":"s","seq":1,"events":[{"type":"custom","ts":1,"a":{"b":{"c":{"d":1}}}}]}"#;
    let response = runner.post(deep, &[]);
    assert_error(&response, 400, "too_deep");
    assert_eq!(response.json()["error"]["path"], "$.events[0].a.b.c");
    let long_key =
        format!(r#"{{"session_id":"s","seq":1,"events":[{{"type":"custom","ts":1,"{}":1}}]}}"#, "k".repeat(1001));
    assert_error(&runner.post(long_key.as_bytes(), &[]), 400, "string_too_long");
    assert!(runner.stop().success());
    let (_dir, runner) = self::runner("[limits]\nmax_string_bytes = 1000\n");
    let css = "a{color:red}".repeat(90);
    let long = format!(
        r#"{{"session_id":"css","seq":1,"events":[{{"type":"custom","ts":1,"s":"kept"}}],
        "replay":[{{"type":2,"timestamp":1,"data":{{"node":{{"type":2,"tagName":"style","attributes":{{"_cssText":"{css}"}},"childNodes":[],"id":1}}}}}}]}}"#
    );
    let response = runner.post(long.as_bytes(), &[]);
    assert_eq!(response.status, 202, "{}", response.text());
    assert_eq!(response.json(), serde_json::json!({"accepted": 2, "dropped_values": 1}));
    assert_eq!(runner.metric("traceflow_runner_oversized_values_dropped_total"), 1.0);
    let data = runner.data_dir.clone();
    assert!(runner.stop().success());
    let stored = serde_json::to_string(&common::dumped(&data)).unwrap();
    assert!(stored.contains(traceflow_protocol::batch::OVERSIZED_VALUE) && !stored.contains(&css[..100]), "{stored}");
    assert!(stored.contains("\"kept\""));
}

#[test]
fn answers_415_to_unknown_encodings_and_media_types() {
    let (_dir, runner) = runner("");
    assert_error(&runner.post(&batch("s", 1, 1), &[("content-encoding", "br")]), 415, "unsupported_encoding");
    assert_error(
        &runner.post(&batch("s", 1, 1), &[("content-type", "application/x-www-form-urlencoded")]),
        415,
        "unsupported_media_type",
    );
}

#[test]
fn answers_429_with_retry_after_when_rate_limited() {
    let (_dir, runner) = runner("[rate_limit]\nevents_per_second = 1\nburst = 4\n");
    assert_eq!(runner.post(&batch("s", 1, 3), &[]).status, 202);
    let response = runner.post(&batch("s", 2, 3), &[]);
    assert_error(&response, 429, "rate_limited");
    assert!(response.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s >= 1));
    assert!(runner.metric("traceflow_runner_batches_total{outcome=\"rate_limited\"}") >= 1.0);
}

#[test]
fn each_decoder_is_accepted() {
    let (_dir, runner) = runner("");
    let body = |seq| batch("dec", seq, 2);
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&body(3)).unwrap();
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(&body(4)).unwrap();
    type Headers<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Vec<u8>, Headers)> = vec![
        (body(0), vec![("content-type", "application/json; charset=utf-8")]),
        (body(1), vec![("content-type", "text/plain;charset=UTF-8")]),
        (gzip(&body(2)), vec![("content-encoding", "gzip")]),
        (zlib.finish().unwrap(), vec![("content-encoding", "deflate")]),
        (raw.finish().unwrap(), vec![("content-encoding", "deflate")]),
        (zstd::bulk::compress(&body(5), 3).unwrap(), vec![("content-encoding", "zstd")]),
        // sendBeacon cannot set Content-Encoding: gzip is recognised by its magic bytes.
        (gzip(&body(6)), vec![("content-type", "text/plain")]),
    ];
    for (i, (payload, headers)) in cases.iter().enumerate() {
        let response = runner.post(payload, headers);
        assert_eq!(response.status, 202, "case {i}: {}", response.text());
    }
    let data = runner.data_dir.clone();
    assert!(runner.stop().success());
    let seqs: Vec<u64> = dump(&data).into_iter().map(|(_, seq)| seq).collect();
    assert_eq!(seqs.len(), 7);
    assert!((0..7).all(|s| seqs.contains(&s)));
}

#[test]
fn retried_batches_are_acknowledged_but_stored_once() {
    let (_dir, runner) = runner("");
    for _ in 0..3 {
        assert_eq!(runner.post(&batch("retry", 7, 1), &[]).status, 202);
    }
    // Concurrent retries of one batch race in the same group commit.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let addr = runner.addr;
            std::thread::spawn(move || common::post_batch(addr, &batch("retry", 8, 1)).expect("post"))
        })
        .collect();
    for thread in threads {
        let response = thread.join().unwrap();
        assert_eq!(response.status, 202);
    }
    // The same seq in another session is a different batch.
    assert_eq!(runner.post(&batch("other", 7, 1), &[]).status, 202);
    let duplicate = runner.post(&batch("retry", 7, 1), &[]);
    assert_eq!(duplicate.json()["duplicate"], true);
    let data = runner.data_dir.clone();
    assert!(runner.stop().success());
    let mut stored = dump(&data);
    stored.sort();
    assert_eq!(stored, vec![("other".into(), 7), ("retry".into(), 7), ("retry".into(), 8)]);
}

#[test]
fn retries_are_recognised_after_a_restart() {
    let (dir, runner) = runner("");
    assert_eq!(runner.post(&batch("durable", 1, 1), &[]).status, 202);
    let config = runner.config.clone();
    let data = runner.data_dir.clone();
    assert!(runner.stop().success());
    let runner = Runner::start_with_config(&config, &data);
    assert_eq!(runner.post(&batch("durable", 1, 1), &[]).json()["duplicate"], true);
    assert!(runner.stop().success());
    assert_eq!(dump(&data).len(), 1);
    drop(dir);
}

#[test]
fn concurrent_requests_share_flushes() {
    let (_dir, runner) = runner("");
    let requests_per_thread = 10;
    let threads: Vec<_> = (0..64)
        .map(|t| {
            let addr = runner.addr;
            std::thread::spawn(move || {
                (0..requests_per_thread)
                    .map(|i| common::post_batch(addr, &batch(&format!("gc-{t}"), i, 2)).expect("post").status)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    let requests = statuses.len() as f64;
    let flushes = runner.metric("traceflow_runner_buffer_flushes_total");
    let grouped = runner.metric("traceflow_runner_buffer_group_batches_sum");
    assert_eq!(grouped, requests, "every batch went through a group commit");
    assert!(flushes >= 1.0 && flushes <= requests / 2.0, "{flushes} flushes for {requests} requests");
    let data = runner.data_dir.clone();
    assert!(runner.stop().success());
    assert_eq!(dump(&data).len(), 640);
}

#[test]
fn health_readiness_metrics_and_unknown_routes() {
    let (_dir, runner) = runner("");
    assert_eq!(runner.get("/healthz").status, 200);
    let ready = runner.get("/readyz");
    assert_eq!((ready.status, ready.json()["status"].as_str()), (200, Some("ready")));
    assert_eq!(runner.post(&batch("m", 1, 2), &[]).status, 202);
    assert_eq!(runner.post(b"[]", &[]).status, 400);
    let metrics = runner.get("/metrics").text();
    for name in [
        "traceflow_runner_http_requests_total{status=\"202\"} 1",
        "traceflow_runner_http_requests_total{status=\"400\"} 1",
        "traceflow_runner_events_total{outcome=\"accepted\"} 3",
        "traceflow_runner_batches_total{outcome=\"invalid\"} 1",
        "traceflow_runner_received_bytes_total",
        "traceflow_runner_stored_bytes_total",
        "traceflow_runner_buffer_live_bytes",
        "traceflow_runner_buffer_depth_chunks 1",
        "traceflow_runner_buffer_flush_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }
    assert_error(&runner.get("/nope"), 404, "not_found");
    let wrong = runner.get("/v1/batch");
    assert_error(&wrong, 405, "method_not_allowed");
    assert_eq!(wrong.header("allow"), Some("POST, OPTIONS"));
}

#[test]
fn idle_keep_alive_connections_never_lock_a_new_client_out() {
    use std::io::Read;
    // The default `max_connections` (1,024), and more idle keep-alive connections than that.
    let (_dir, runner) = runner("");
    let mut idle = Vec::new();
    for _ in 0..1_100 {
        let mut stream = std::net::TcpStream::connect(runner.addr).unwrap();
        write!(stream, "GET /healthz HTTP/1.1\r\nhost: runner\r\n\r\n").unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = [0u8; 256];
        let read = stream.read(&mut answer).unwrap();
        assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
        idle.push(stream);
    }
    // Without eviction this client would wait in the accept queue until an idle socket timed out (minutes).
    let started = std::time::Instant::now();
    let mut fresh = std::net::TcpStream::connect(runner.addr).unwrap();
    fresh.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = batch("fresh-client", 1, 1);
    write!(
        fresh,
        "POST /v1/batch HTTP/1.1\r\nhost: runner\r\nconnection: close\r\nauthorization: Bearer {KEY}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    fresh.write_all(&body).unwrap();
    let answer = common::read_response(&mut fresh).expect("an answer");
    let took = started.elapsed();
    assert_eq!(answer.status, 202, "{}", answer.text());
    eprintln!("a new client behind 1,100 idle connections: 202 in {took:?}");
    assert!(took < Duration::from_secs(1), "a new client waited {took:?} behind 1,100 idle connections");
    drop(idle);
    assert!(runner.stop().success());
}

/// The browser SDK is served by the runner itself (no CDN): both builds, with an `ETag` that a revalidation
/// answers with 304, a day's cache, and readable from any origin; an unknown file is a JSON 404.
#[test]
fn serves_the_web_sdk_with_an_etag_and_answers_the_sdk_config() {
    let (_dir, runner) = runner("");
    let script =
        common::request(runner.addr, "GET", "/sdk/v1/traceflow.js", &[("origin", "https://bank.example")], b"");
    assert_eq!(script.status, 200);
    assert_eq!(script.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert_eq!(script.header("access-control-allow-origin"), Some("*"));
    assert!(script.header("cache-control").is_some_and(|c| c.contains("max-age=86400")));
    assert!(script.text().contains("data-key"), "the one-tag build reads its key from its tag");
    let etag = script.header("etag").expect("an ETag").to_string();
    let again = common::request(runner.addr, "GET", "/sdk/v1/traceflow.js", &[("if-none-match", &etag)], b"");
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let module = common::request(runner.addr, "GET", "/sdk/v1/traceflow.mjs", &[], b"");
    assert_eq!(module.status, 200);
    assert_ne!(module.header("etag"), Some(etag.as_str()));
    assert_error(&common::request(runner.addr, "GET", "/sdk/v2/traceflow.js", &[], b""), 404, "not_found");
    // Any unknown path: a 404 a browser can read (with CORS headers), counted.
    let unknown = common::request(runner.addr, "POST", "/e/", &[("origin", "https://bank.example")], b"{}");
    assert_error(&unknown, 404, "not_found");
    assert_eq!(unknown.header("access-control-allow-origin"), Some("https://bank.example"));
    assert!(runner.get("/metrics").text().contains("status=\"404\""), "404s are counted");

    // What the SDK reads at start: the active policy's features and sampling.
    let config = common::request(
        runner.addr,
        "GET",
        &format!("/v1/config?key={KEY}"),
        &[("origin", "https://bank.example")],
        b"",
    );
    assert_eq!(config.status, 200, "{}", config.text());
    assert_eq!(config.header("access-control-allow-origin"), Some("https://bank.example"));
    let body = config.json();
    assert_eq!(body["features"]["replay"], true);
    assert_eq!(body["sampling"]["session_rate"], 1.0);
    assert_error(&common::request(runner.addr, "GET", "/v1/config?key=nope", &[], b""), 401, "unknown_key");
    assert_error(&common::request(runner.addr, "GET", "/v1/config", &[], b""), 401, "missing_key");
}

/// A page as deep as real single-page apps get: an rrweb snapshot 55 DOM levels deep (115 JSON levels) is
/// stored, its PII tokenized at the bottom; past the limit the answer names the path.
#[test]
fn stores_an_rrweb_snapshot_of_a_page_55_dom_levels_deep() {
    let (_dir, runner) = runner("");
    let snapshot = |levels: usize| {
        let mut node =
            r#"{"type":3,"textContent":"Statement sent to priya.raghavan@example.com","id":99999}"#.to_string();
        for level in (0..levels).rev() {
            node = format!(
                r#"{{"type":2,"tagName":"div","attributes":{{"class":"l{level}"}},"childNodes":[{node}],"id":{}}}"#,
                level + 2
            );
        }
        format!(
            r#"{{"session_id":"deep-{levels}","seq":1,"replay":[{{"type":2,"timestamp":1,"data":{{"node":{{"type":0,"childNodes":[{node}],"id":1}},"initialOffset":{{"left":0,"top":0}}}}}}]}}"#
        )
    };
    let response = runner.post(snapshot(55).as_bytes(), &[]);
    assert_eq!(response.status, 202, "{}", response.text());
    let too_deep = runner.post(snapshot(58).as_bytes(), &[]);
    assert_error(&too_deep, 400, "too_deep");
    assert!(too_deep.json()["error"]["path"].as_str().unwrap().starts_with("$.replay[0].data.node.childNodes[0]"));
    let data = runner.data_dir.clone();
    assert!(runner.stop().success());
    let stored = serde_json::to_string(&common::dumped(&data)).unwrap();
    assert!(stored.contains("Statement sent to tok_email_") && !stored.contains("priya.raghavan@"), "{stored:.300}");
    assert!(stored.contains("\"l54\""), "the deepest element is kept");
}
