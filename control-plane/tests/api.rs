//! The runner and admin APIs of a real `traceflow-cp` over TLS on loopback: enrollment, uploads and read-back,
//! identity by client certificate, revocation, renewal, check-in, admin authentication.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::*;
use serde_json::{json, Value};
use traceflow_certs::{Ca, KeyAndCert};
use traceflow_http::client;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

async fn enroll_with(cp: &ControlPlane, token: &str) -> client::Response {
    let csr = traceflow_certs::generate_key_and_csr("r").unwrap();
    cp.call("POST", "/v1/enroll", &[], json!({"token": token, "csr_pem": csr.csr_pem, "hostname": "h", "version": "v"}))
        .await
}

#[tokio::test]
async fn enrollment_outcomes() {
    let cp = ControlPlane::start("enroll");
    let runner = cp.enroll().await;
    let answer = &runner.enroll;
    assert!(runner.id.starts_with("r_"));
    assert_eq!((answer["tenant"].as_str(), answer["group"].as_str()), (Some("default"), Some("default")));
    assert_eq!(answer["ca_pem"].as_str(), Some(cp.ca_pem.as_str()));
    assert!(answer["not_after_ms"].as_u64().unwrap() > now_ms() + 29 * 86_400_000);
    assert_eq!(
        traceflow_certs::cert_not_after_ms(&runner.identity.cert_pem).unwrap(),
        answer["not_after_ms"].as_u64().unwrap()
    );
    let key = answer["policy_public_key"].as_str().unwrap();
    assert_eq!(key.len(), 44, "base64 of 32 bytes");

    // Used up: one use, second enrollment refused.
    let token = cp.enrollment_token(1, 3600).await;
    assert_eq!(enroll_with(&cp, &token).await.status, 200);
    let used_up = enroll_with(&cp, &token).await;
    assert_eq!((used_up.status, error_code(&used_up).as_str()), (401, "enrollment_token_used_up"));

    // Expired.
    let token = cp.enrollment_token(5, 1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = enroll_with(&cp, &token).await;
    assert_eq!((expired.status, error_code(&expired).as_str()), (401, "enrollment_token_expired"));

    // Forged (well-formed but unknown) and malformed tokens.
    for token in ["et_abcdefghijklmnopqrstuvwxyz234567", "hello"] {
        let forged = enroll_with(&cp, token).await;
        assert_eq!((forged.status, error_code(&forged).as_str()), (401, "enrollment_token_invalid"), "{token}");
    }

    // Bad CSR, and bad JSON: 400, and neither burns a use.
    let token = cp.enrollment_token(1, 3600).await;
    let bad_csr = cp.call("POST", "/v1/enroll", &[], json!({"token": token, "csr_pem": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"})).await;
    assert_eq!((bad_csr.status, error_code(&bad_csr).as_str()), (400, "invalid_csr"));
    let bad_json = cp.call("POST", "/v1/enroll", &[], json!({"csr_pem": 5})).await;
    assert_eq!((bad_json.status, error_code(&bad_json).as_str()), (400, "invalid_request"));
    assert_eq!(enroll_with(&cp, &token).await.status, 200);

    // The token list shows uses without secrets.
    let (status, tokens) = cp.admin("GET", "/v1/admin/enrollment-tokens", Value::Null).await;
    assert_eq!(status, 200);
    let tokens = tokens["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 4);
    assert!(tokens.iter().all(|t| t.get("token").is_none() && t["id"].is_string() && t["expires_at_ms"].is_u64()));
}

#[tokio::test]
async fn upload_is_idempotent_and_reads_back_in_seq_order() {
    let cp = ControlPlane::start("upload");
    let runner = cp.enroll().await;
    // Two sessions, seqs out of order; session b is the newer one.
    let records = vec![
        record("pk1", "sess-a", 2, 1_000),
        record("pk1", "sess-a", 0, 900),
        record("pk1", "sess-b", 0, 5_000),
        record("pk1", "sess-a", 1, 950),
    ];
    let first = runner.upload(&format!("{}/1", runner.id), chunk(&records)).await;
    assert_eq!((first.status, json_of(&first)), (200, json!({"stored": 4, "duplicate": false})));

    let again = runner.upload(&format!("{}/1", runner.id), chunk(&records)).await;
    assert_eq!((again.status, json_of(&again)), (200, json!({"stored": 0, "duplicate": true})));
    // A new chunk repeating stored batches stores only the new one (zstd-encoded body this time).
    let overlap = traceflow_protocol::Codec::Zstd
        .compress(&chunk(&[record("pk1", "sess-a", 1, 950), record("pk1", "sess-a", 3, 1_100)]), 3);
    let response = runner
        .post(
            "/v1/runner/upload",
            &[("x-traceflow-chunk-id", &format!("{}/2", runner.id)), ("content-encoding", "zstd")],
            Bytes::from(overlap),
        )
        .await
        .unwrap();
    assert_eq!((response.status, json_of(&response)), (200, json!({"stored": 1, "duplicate": false})));

    let (status, sessions) = cp.admin("GET", "/v1/admin/sessions", Value::Null).await;
    assert_eq!(status, 200);
    assert_eq!(
        sessions["sessions"],
        json!([
            {"session_id": "sess-b", "project": "pk1", "batches": 1, "events": 2, "replay": 3, "first_received_ms": 5000, "last_received_ms": 5000},
            {"session_id": "sess-a", "project": "pk1", "batches": 4, "events": 8, "replay": 12, "first_received_ms": 900, "last_received_ms": 1100},
        ])
    );
    let (_, limited) = cp.admin("GET", "/v1/admin/sessions?limit=1&project=pk1", Value::Null).await;
    assert_eq!(limited["sessions"].as_array().unwrap().len(), 1);
    let (_, other_project) = cp.admin("GET", "/v1/admin/sessions?project=nope", Value::Null).await;
    assert_eq!(other_project["sessions"], json!([]));

    let (status, events) = cp.admin("GET", "/v1/admin/sessions/sess-a/events", Value::Null).await;
    assert_eq!(status, 200, "{events}");
    assert_eq!(events["project"], "pk1");
    let seqs: Vec<u64> = events["batches"].as_array().unwrap().iter().map(|b| b["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3]);
    let batch = &events["batches"][1];
    assert_eq!((batch["runner_id"].as_str(), batch["received_at_ms"].as_u64()), (Some(runner.id.as_str()), Some(950)));
    assert_eq!(batch["batch"], serde_json::from_slice::<Value>(&batch_json("sess-a", 1, 2, 3)).unwrap());
    let event_seqs: Vec<u64> =
        events["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(event_seqs, vec![0, 0, 1, 1, 2, 2, 3, 3]);
    assert_eq!(events["replay"].as_array().unwrap().len(), 12);
    let (_, page) =
        cp.admin("GET", "/v1/admin/sessions/sess-a/events?project=pk1&limit=2&after_seq=0", Value::Null).await;
    let seqs: Vec<u64> = page["batches"].as_array().unwrap().iter().map(|b| b["seq"].as_u64().unwrap()).collect();
    assert_eq!((seqs, page["next_after_seq"].as_u64()), (vec![1, 2], Some(2)));
    let (status, missing) = cp.admin("GET", "/v1/admin/sessions/nope/events", Value::Null).await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("session_not_found")));

    // Consecutive buffered chunks joined into one upload (`first-last`): the batches already stored are kept
    // once, and the joined id is as idempotent as a single one.
    let joined = chunk(&[record("pk1", "sess-a", 3, 1_100), record("pk1", "sess-c", 0, 6_000)]);
    let first = runner.upload(&format!("{}/3-5", runner.id), joined.clone()).await;
    assert_eq!((first.status, json_of(&first)), (200, json!({"stored": 1, "duplicate": false})));
    let again = runner.upload(&format!("{}/3-5", runner.id), joined).await;
    assert_eq!((again.status, json_of(&again)), (200, json!({"stored": 0, "duplicate": true})));

    // Duplicates never changed the counts; the metrics agree.
    let metrics = String::from_utf8(
        cp.call("GET", "/metrics", &[("authorization", &format!("Bearer {}", cp.admin_token))], Value::Null)
            .await
            .body
            .to_vec(),
    )
    .unwrap();
    for line in [
        "traceflow_cp_records_stored_total 6",
        "traceflow_cp_records_duplicate_total 2",
        "traceflow_cp_uploads_total{outcome=\"duplicate\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
}

#[tokio::test]
async fn bad_uploads_get_precise_errors() {
    let cp = ControlPlane::start("bad-upload");
    let runner = cp.enroll().await;
    let other = cp.enroll().await;
    let good = chunk(&[record("p", "s", 1, 1)]);
    type Case = (Vec<(&'static str, String)>, Vec<u8>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (vec![], good.clone(), 400, "invalid_chunk_id"),
        (vec![("x-traceflow-chunk-id", format!("{}/x", runner.id))], good.clone(), 400, "invalid_chunk_id"),
        (vec![("x-traceflow-chunk-id", format!("{}/5-4", runner.id))], good.clone(), 400, "invalid_chunk_id"),
        (vec![("x-traceflow-chunk-id", format!("{}/1-", runner.id))], good.clone(), 400, "invalid_chunk_id"),
        (vec![("x-traceflow-chunk-id", format!("{}/1", other.id))], good.clone(), 403, "chunk_id_mismatch"),
        (
            vec![("x-traceflow-chunk-id", format!("{}/1", runner.id)), ("content-encoding", "br".into())],
            good.clone(),
            415,
            "unsupported_encoding",
        ),
        (vec![("x-traceflow-chunk-id", format!("{}/1", runner.id))], b"TFC1garbage".to_vec(), 400, "invalid_chunk"),
        (
            vec![("x-traceflow-chunk-id", format!("{}/1", runner.id)), ("content-encoding", "zstd".into())],
            good.clone(),
            400,
            "invalid_chunk",
        ),
    ];
    for (headers, body, status, code) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let response = runner.post("/v1/runner/upload", &headers, Bytes::from(body)).await.unwrap();
        assert_eq!((response.status, error_code(&response).as_str()), (status, code), "{headers:?}");
    }
    // A record that does not decompress.
    let mut broken = record("p", "s", 1, 1);
    broken.data = b"not zstd".to_vec();
    let response = runner.upload(&format!("{}/1", runner.id), chunk(&[broken])).await;
    assert_eq!((response.status, error_code(&response).as_str()), (400, "invalid_chunk"));
    // None of these stored anything, so the chunk id is still free.
    let response = runner.upload(&format!("{}/1", runner.id), good).await;
    assert_eq!(json_of(&response), json!({"stored": 1, "duplicate": false}));
    // Unknown routes and methods answer JSON errors.
    let response = cp.call("GET", "/v1/nope", &[], Value::Null).await;
    assert_eq!((response.status, error_code(&response).as_str()), (404, "not_found"));
    let response = cp.call("GET", "/v1/enroll", &[], Value::Null).await;
    assert_eq!((response.status, error_code(&response).as_str()), (405, "method_not_allowed"));
}

#[tokio::test]
async fn identity_comes_from_the_client_certificate() {
    let cp = ControlPlane::start("identity");
    let runner = cp.enroll().await;
    let body = Bytes::from(chunk(&[record("p", "s", 1, 1)]));
    let chunk_id = format!("{}/1", runner.id);
    let headers = [("x-traceflow-chunk-id", chunk_id.as_str())];
    let url = format!("{}/v1/runner/upload", cp.url);

    // No client certificate: 401.
    let response = client::request(cp.plain_config(), &url, "POST", &headers, body.clone(), TIMEOUT).await.unwrap();
    assert_eq!((response.status, error_code(&response).as_str()), (401, "client_certificate_required"));

    // A certificate of another CA: the handshake fails.
    let other_ca = Ca::generate("other", 1).unwrap();
    let csr = traceflow_certs::generate_key_and_csr("x").unwrap();
    let foreign =
        other_ca.sign_runner_csr(&csr.csr_pem, "default", &runner.id, now_ms() - 60_000, now_ms() + 3_600_000).unwrap();
    let foreign = KeyAndCert { key_pem: csr.key_pem.clone(), cert_pem: foreign.cert_pem };
    let config = traceflow_certs::client_config(&cp.ca_pem, Some(&foreign)).unwrap();
    assert!(client::request(config, &url, "POST", &headers, body.clone(), TIMEOUT).await.is_err());

    // An expired certificate from the right CA: the handshake fails.
    let ca = Ca::from_pem(&cp.ca_pem, &std::fs::read_to_string(cp.dir.join("ca.key")).unwrap()).unwrap();
    let expired =
        ca.sign_runner_csr(&csr.csr_pem, "default", &runner.id, now_ms() - 7_200_000, now_ms() - 3_600_000).unwrap();
    let expired = KeyAndCert { key_pem: csr.key_pem.clone(), cert_pem: expired.cert_pem };
    let config = traceflow_certs::client_config(&cp.ca_pem, Some(&expired)).unwrap();
    assert!(client::request(config, &url, "POST", &headers, body.clone(), TIMEOUT).await.is_err());

    // A valid certificate of the right CA that the control plane never issued: 403.
    let unknown =
        ca.sign_runner_csr(&csr.csr_pem, "default", &runner.id, now_ms() - 60_000, now_ms() + 3_600_000).unwrap();
    let unknown = KeyAndCert { key_pem: csr.key_pem, cert_pem: unknown.cert_pem };
    let config = traceflow_certs::client_config(&cp.ca_pem, Some(&unknown)).unwrap();
    let response = client::request(config, &url, "POST", &headers, body.clone(), TIMEOUT).await.unwrap();
    assert_eq!((response.status, error_code(&response).as_str()), (403, "unknown_certificate"));

    // A TLS 1.2-only client: the handshake fails.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(cp.ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls12 = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    assert!(client::request(Arc::new(tls12), &format!("{}/healthz", cp.url), "GET", &[], Bytes::new(), TIMEOUT)
        .await
        .is_err());

    // The enrolled certificate works.
    let response = runner.upload(&chunk_id, body.to_vec()).await;
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn revoked_runners_get_403_everywhere() {
    let cp = ControlPlane::start("revoke");
    let runner = cp.enroll().await;
    let bystander = cp.enroll().await;
    let (status, answer) = cp.admin("POST", &format!("/v1/admin/runners/{}/revoke", runner.id), Value::Null).await;
    assert_eq!((status, answer), (200, json!({"runner_id": runner.id, "revoked": true})));
    let upload = runner.upload(&format!("{}/1", runner.id), chunk(&[record("p", "s", 1, 1)])).await;
    let checkin = runner.checkin(json!({})).await;
    let (renew, _) = runner.renew().await;
    // A big refused body is drained, so the runner reads the answer instead of a reset connection.
    let big: Vec<u8> = (0..4 << 20).map(|_| fastrand::u8(..)).collect();
    let big = runner.upload(&format!("{}/2", runner.id), big).await;
    for response in [upload, checkin, renew, big] {
        assert_eq!((response.status, error_code(&response).as_str()), (403, "runner_revoked"));
    }
    assert_eq!(bystander.checkin(json!({})).await.status, 200);
    let (_, runners) = cp.admin("GET", "/v1/admin/runners", Value::Null).await;
    let revoked: Vec<(String, bool)> = runners["runners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["runner_id"].as_str().unwrap().to_string(), r["revoked"].as_bool().unwrap()))
        .collect();
    assert!(revoked.contains(&(runner.id.clone(), true)) && revoked.contains(&(bystander.id.clone(), false)));
    let (status, missing) = cp.admin("POST", "/v1/admin/runners/r_nope/revoke", Value::Null).await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("runner_not_found")));
}

#[tokio::test]
async fn renewal_gives_a_working_certificate() {
    let cp = ControlPlane::start("renew");
    let runner = cp.enroll().await;
    let (response, key_pem) = runner.renew().await;
    let answer = json_of(&response);
    assert_eq!(response.status, 200, "{answer}");
    let renewed = Runner {
        id: runner.id.clone(),
        identity: KeyAndCert { key_pem, cert_pem: answer["cert_pem"].as_str().unwrap().to_string() },
        url: runner.url.clone(),
        ca_pem: runner.ca_pem.clone(),
        enroll: Value::Null,
    };
    assert_ne!(renewed.identity.cert_pem, runner.identity.cert_pem);
    assert_eq!(
        traceflow_certs::cert_not_after_ms(&renewed.identity.cert_pem).unwrap(),
        answer["not_after_ms"].as_u64().unwrap()
    );
    let response = renewed.upload(&format!("{}/1", runner.id), chunk(&[record("p", "s", 1, 1)])).await;
    assert_eq!(json_of(&response), json!({"stored": 1, "duplicate": false}));
    // The old certificate stays valid until it expires.
    let response = runner.upload(&format!("{}/2", runner.id), chunk(&[record("p", "s", 2, 1)])).await;
    assert_eq!(response.status, 200);
    let bad = runner.post("/v1/runner/renew", &[], Bytes::from_static(b"{\"csr_pem\":\"x\"}")).await.unwrap();
    assert_eq!((bad.status, error_code(&bad).as_str()), (400, "invalid_csr"));
}

#[tokio::test]
async fn checkin_shows_in_the_runner_list() {
    let cp = ControlPlane::start_with("checkin", &["--poll-after-ms", "1234"]);
    let runner = cp.enroll().await;
    let (_, before) = cp.admin("GET", "/v1/admin/runners", Value::Null).await;
    assert_eq!(before["runners"][0]["last_seen_ms"], Value::Null);
    let report = json!({
        "version": "0.2.0", "hostname": "edge-7", "cert_not_after_ms": 42,
        "buffer": {"depth": 3, "live_bytes": 100, "disk_bytes": 4096},
        "outcomes": {"accepted": 10, "duplicate": 1, "invalid": 2, "rate_limited": 0, "unavailable": 0},
        "upload": {"lag_ms": 5, "chunks": 7, "bytes": 700, "retries": 1, "dead_letters": 0, "concurrency": 2},
        "policy": {"revision": 3, "hash": "abc", "state": "applied", "error": null},
    });
    // No policy applied yet and no wait asked for: the answer comes at once, with no bundle.
    let response = runner.checkin(report.clone()).await;
    assert_eq!((response.status, json_of(&response)), (200, json!({"poll_after_ms": 1234})));
    let (status, runners) = cp.admin("GET", "/v1/admin/runners", Value::Null).await;
    assert_eq!(status, 200);
    let listed = &runners["runners"][0];
    assert_eq!(listed["runner_id"].as_str(), Some(runner.id.as_str()));
    for field in ["version", "hostname", "cert_not_after_ms", "buffer", "outcomes", "upload", "policy"] {
        assert_eq!(listed[field], report[field], "{field}");
    }
    assert!(listed["last_seen_ms"].as_u64().unwrap() >= now_ms() - 60_000);
    assert_eq!((listed["group"].as_str(), listed["revoked"].as_bool()), (Some("default"), Some(false)));
    assert!(listed["enrolled_at_ms"].is_u64());
    // An empty check-in is fine; a malformed one is a 400.
    assert_eq!(runner.post("/v1/runner/checkin", &[], Bytes::new()).await.unwrap().status, 200);
    for bad in [json!({"buffer": 5}), json!({"policy": {"state": "weird"}}), json!({"wait_ms": -1})] {
        let bad = runner.checkin(bad).await;
        assert_eq!((bad.status, error_code(&bad).as_str()), (400, "invalid_request"));
    }
}

#[tokio::test]
async fn admin_token_is_required() {
    let cp = ControlPlane::start("admin-auth");
    for headers in [vec![], vec![("authorization", "Bearer adm_wrong")], vec![("authorization", "adm_wrong")]] {
        for (method, path) in
            [("GET", "/v1/admin/runners"), ("GET", "/v1/admin/sessions"), ("POST", "/v1/admin/enrollment-tokens")]
        {
            let response = cp.call(method, path, &headers, json!({})).await;
            assert_eq!(
                (response.status, error_code(&response).as_str()),
                (401, "admin_token_invalid"),
                "{method} {path}"
            );
        }
    }
    let (status, _) = cp.admin("GET", "/v1/admin/runners", Value::Null).await;
    assert_eq!(status, 200);
    let (status, answer) = cp.admin("POST", "/v1/admin/enrollment-tokens", json!({"group": "a/b"})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_request")));
    let (status, answer) = cp.admin("GET", "/v1/admin/sessions?limit=0", Value::Null).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_request")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_beyond_the_limit_get_503_with_retry_after() {
    let cp = ControlPlane::start_with("limit", &["--max-uploads", "1"]);
    let runner = Arc::new(cp.enroll().await);
    // Big, barely compressible records keep each upload busy long enough to overlap.
    let payload: String = (0..1 << 20).map(|_| char::from(b'a' + fastrand::u8(..26))).collect();
    let json =
        serde_json::to_vec(&json!({"session_id": "s", "seq": 0, "events": [], "replay": [], "pad": payload})).unwrap();
    let uploads: Vec<_> = (0..12u64)
        .map(|n| {
            let meta = traceflow_protocol::RecordMeta {
                project: "p".into(),
                session_id: format!("s{n}"),
                seq: 0,
                received_at_ms: 1,
                events: 0,
                replay: 0,
            };
            let body =
                chunk(&[traceflow_protocol::Record::new(meta, traceflow_protocol::Codec::Zstd, 1, &json).unwrap()]);
            let runner = runner.clone();
            tokio::spawn(async move { runner.upload(&format!("{}/{n}", runner.id), body).await })
        })
        .collect();
    let (mut stored, mut refused) = (0, 0);
    for upload in uploads {
        let response = upload.await.unwrap();
        match response.status {
            200 => stored += 1,
            503 => {
                assert_eq!(error_code(&response), "unavailable");
                assert_eq!(response.header("retry-after"), Some("1"));
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", String::from_utf8_lossy(&response.body)),
        }
    }
    assert!(stored >= 1 && refused >= 1, "stored {stored}, refused {refused}");
}

#[tokio::test]
async fn the_admin_auth_scheme_is_case_insensitive() {
    let cp = ControlPlane::start("api-scheme");
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let authorization = format!("{scheme} {}", cp.admin_token);
        let response = cp.call("GET", "/v1/admin/runners", &[("authorization", &authorization)], Value::Null).await;
        assert_eq!(response.status, 200, "{scheme}");
    }
    let wrong = cp.call("GET", "/v1/admin/runners", &[("authorization", "Basic abc")], Value::Null).await;
    assert_eq!(wrong.status, 401);
}

#[tokio::test]
async fn metrics_need_an_admin_token_except_on_the_plain_metrics_listener() {
    let cp = ControlPlane::start_with("api-metrics", &["--metrics-listen", "127.0.0.1:0"]);
    assert_eq!(cp.call("GET", "/metrics", &[], Value::Null).await.status, 401);
    let wrong = cp.call("GET", "/metrics", &[("authorization", "Bearer adm_wrong")], Value::Null).await;
    assert_eq!(wrong.status, 401);
    let auth = format!("Bearer {}", cp.admin_token);
    let metrics = cp.call("GET", "/metrics", &[("authorization", &auth)], Value::Null).await;
    assert_eq!(metrics.status, 200);
    let answer = plain_get(cp.metrics_url.clone().expect("the metrics listener's address")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("traceflow_cp_"), "{answer}");
}

#[tokio::test]
async fn an_address_guessing_admin_tokens_is_throttled() {
    let cp = ControlPlane::start_with("api-throttle", &["--metrics-listen", "127.0.0.1:0"]);
    for n in 0..10 {
        let wrong = cp.call("GET", "/v1/admin/runners", &[("authorization", "Bearer adm_guess")], Value::Null).await;
        assert_eq!(wrong.status, 401, "guess {n}");
    }
    let throttled = cp.call("GET", "/v1/admin/runners", &[("authorization", "Bearer adm_guess")], Value::Null).await;
    assert_eq!((throttled.status, error_code(&throttled).as_str()), (429, "too_many_attempts"));
    let wait: u64 = throttled.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    // While throttled, not even the right token is looked at from this address.
    let auth = format!("Bearer {}", cp.admin_token);
    let right = cp.call("GET", "/v1/admin/runners", &[("authorization", &auth)], Value::Null).await;
    assert_eq!(right.status, 429);
    let metrics = plain_get(cp.metrics_url.clone().expect("metrics listener")).await;
    assert!(metrics.contains("traceflow_cp_admin_auth_failures_total 10\n"), "{metrics}");
    assert!(metrics.contains("traceflow_cp_admin_auth_throttled_total 2\n"), "{metrics}");
}

/// A GET of `url` (`http://ADDR/PATH`) over plain HTTP/1.1; the whole answer as text.
async fn plain_get(url: String) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (addr, path) = rest.split_once('/').unwrap();
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(stream, "GET /{path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn below_its_free_space_floor_uploads_get_503_disk_full_and_readyz_says_why() {
    // A floor no filesystem can meet: the guard is low from the start.
    let cp = ControlPlane::start_with("api-disk-full", &["--min-free-bytes", "1152921504606846976"]);
    let runner = cp.enroll().await;
    let refused = runner.upload(&format!("{}/1", runner.id), chunk(&[record("pk1", "sess-a", 0, 1_000)])).await;
    assert_eq!((refused.status, error_code(&refused).as_str()), (503, "disk_full"));
    assert!(refused.header("retry-after").is_some(), "the runner keeps the chunk and retries");
    let ready = cp.call("GET", "/readyz", &[], Value::Null).await;
    assert_eq!(ready.status, 503);
    assert!(String::from_utf8_lossy(&ready.body).contains("disk_full"));
}
