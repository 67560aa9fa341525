//! The browser SDK (`sdk/web`, built into `sdk/web/dist/`), embedded in the binary and served at
//! `/sdk/v1/traceflow.js` (a classic script: one `<script src=… data-key=…>` tag) and `/sdk/v1/traceflow.mjs`
//! (an ES module), so a site inside a closed network needs no CDN. Answers carry an `ETag` (a hash of the bundle),
//! are cached for a day and revalidated after, and may be loaded from any origin.

use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use hyper::{Response, StatusCode};
use sha2::{Digest, Sha256};

/// The classic-script bundle (defines `window.traceflow`, starts itself from its tag's `data-key`).
pub const SCRIPT: &[u8] = include_bytes!("../../sdk/web/dist/traceflow.js");
/// The ES module bundle (`import { init } from '…/traceflow.mjs'`).
pub const MODULE: &[u8] = include_bytes!("../../sdk/web/dist/traceflow.mjs");

struct Asset {
    body: Bytes,
    etag: HeaderValue,
}

fn asset_of(bytes: &'static [u8]) -> Asset {
    let digest = Sha256::digest(bytes);
    let etag = format!("\"{}\"", hex::encode(&digest[..12]));
    Asset { body: Bytes::from_static(bytes), etag: HeaderValue::from_str(&etag).expect("hex is a valid header") }
}

/// Answers a request for `path` under `/sdk/`: the bundle, `304` when the client's `If-None-Match` has it, or
/// `404`.
pub fn asset(path: &str, headers: &HeaderMap) -> Response<Full<Bytes>> {
    static ASSETS: OnceLock<[Asset; 2]> = OnceLock::new();
    let [script, module] = ASSETS.get_or_init(|| [asset_of(SCRIPT), asset_of(MODULE)]);
    let asset = match path {
        "/sdk/v1/traceflow.js" => script,
        "/sdk/v1/traceflow.mjs" => module,
        _ => {
            let mut response = Response::new(Full::new(Bytes::from_static(
                br#"{"error":{"code":"not_found","message":"no such SDK file: /sdk/v1/traceflow.js and /sdk/v1/traceflow.mjs are served"}}"#,
            )));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            return response;
        }
    };
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == asset.etag || tag.trim() == "*"));
    let mut response = if fresh {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(Full::new(asset.body.clone()));
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
        response
    };
    let headers = response.headers_mut();
    headers.insert(ETAG, asset.etag.clone());
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400, stale-while-revalidate=604800"));
    // Scripts and modules may be loaded by pages of any origin (a module import needs this header).
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}
