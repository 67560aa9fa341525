//! The runner-facing API: enrollment, the long-poll check-in, certificate renewal and chunk uploads, each
//! naming its runner by the peer certificate.

use super::*;

pub(super) async fn enroll(app: &Arc<App>, request: &mut Exchange) -> Result<Response<Body>, ApiError> {
    let result = async {
        let body = request.json_body().await?;
        let answer = app.enrollment.enroll(&body).await?;
        Ok(json_response(StatusCode::OK, &json!(answer)))
    }
    .await;
    app.metrics.enrollments.get_or_create(&outcome(&result, "enrolled")).inc();
    if let Err(error) = &result {
        tracing::info!(code = error.code(), "enrollment refused");
    }
    result
}

/// `POST /v1/runner/checkin`: records the report, halts a canary the report says failed, then answers at once
/// with a newer signed policy if there is one for this runner, or holds the request until there is one or the wait
/// (`wait_ms`, at most the poll timeout) is over.
pub(super) async fn checkin(
    app: &Arc<App>,
    peer: Option<&str>,
    request: &mut Exchange,
) -> Result<Response<Body>, ApiError> {
    let result = async {
        let runner = identify(app, peer)?;
        let body = request.json_body().await?;
        let checkin = runners::checkin(&app.store, &runner, &body)?;
        app.policies.report(&runner, &checkin.policy).await?;
        let wait = Duration::from_millis(checkin.wait_ms).min(app.options.poll_timeout);
        let mut answer = json!({ "poll_after_ms": app.options.poll_after_ms });
        let bundle = {
            let _waiting = Waiting::new(&app.metrics);
            app.policies.next_bundle(&runner, &checkin.policy, wait).await?
        };
        if let Some(bundle) = bundle {
            app.metrics.policy_pushes.inc();
            answer["policy"] = json!(bundle);
        }
        Ok(json_response(StatusCode::OK, &answer))
    }
    .await;
    app.metrics.checkins.get_or_create(&outcome(&result, "ok")).inc();
    result
}

pub(super) async fn renew(
    app: &Arc<App>,
    peer: Option<&str>,
    request: &mut Exchange,
) -> Result<Response<Body>, ApiError> {
    let result = async {
        let runner = identify(app, peer)?;
        let body = request.json_body().await?;
        let answer = app.enrollment.renew(&runner, &body).await?;
        Ok(json_response(StatusCode::OK, &json!(answer)))
    }
    .await;
    app.metrics.renewals.get_or_create(&outcome(&result, "renewed")).inc();
    result
}

pub(super) fn identify(app: &App, peer: Option<&str>) -> Result<RunnerRecord, ApiError> {
    let result = runners::identify(&app.store, peer);
    if let Err(error) = &result {
        tracing::info!(code = error.code(), fingerprint = peer.unwrap_or("-"), "runner call refused");
    }
    result
}

/// Counts a check-in as waiting for a policy while it lives.
pub(super) struct Waiting<'a>(&'a Metrics);

impl<'a> Waiting<'a> {
    pub(super) fn new(metrics: &'a Metrics) -> Self {
        metrics.checkins_waiting.inc();
        Waiting(metrics)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.checkins_waiting.dec();
    }
}

/// Counts an upload as in flight while it lives.
pub(super) struct InFlight<'a>(&'a Metrics);

impl<'a> InFlight<'a> {
    pub(super) fn new(metrics: &'a Metrics) -> Self {
        metrics.uploads_in_flight.inc();
        InFlight(metrics)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.uploads_in_flight.dec();
    }
}

pub(super) async fn upload(
    app: &Arc<App>,
    peer: Option<&str>,
    request: &mut Exchange,
) -> Result<Response<Body>, ApiError> {
    let started = Instant::now();
    let _in_flight = InFlight::new(&app.metrics);
    let mut chunk_id = None;
    let result = receive_upload(app, peer, request, &mut chunk_id).await;
    let label = OutcomeLabel {
        outcome: match &result {
            Ok(stored) if stored.duplicate => "duplicate",
            Ok(_) => "stored",
            Err(error) => error.code(),
        },
    };
    app.metrics.uploads.get_or_create(&label).inc();
    app.metrics.upload_seconds.observe(started.elapsed().as_secs_f64());
    let chunk_id = chunk_id.as_deref().unwrap_or("-");
    match &result {
        Ok(stored) => tracing::debug!(
            chunk_id,
            records = stored.records,
            duplicate = stored.duplicate,
            micros = started.elapsed().as_micros() as u64,
            "upload stored"
        ),
        Err(error) => tracing::info!(chunk_id, code = error.code(), message = %error, "upload refused"),
    }
    let stored = result?;
    Ok(json_response(StatusCode::OK, &json!({ "stored": stored.records, "duplicate": stored.duplicate })))
}

/// The upload path: identity, chunk id, limits, body, verification, commit.
pub(super) async fn receive_upload(
    app: &Arc<App>,
    peer: Option<&str>,
    request: &mut Exchange,
    chunk_id_out: &mut Option<String>,
) -> Result<Stored, ApiError> {
    let runner = identify(app, peer)?;
    if app.space.is_low() {
        return Err(ApiError::DiskFull);
    }
    let chunk_id = request.header("x-traceflow-chunk-id").ok_or(ApiError::InvalidChunkId)?.to_string();
    // Only for logs, so bounded: the header is whatever the client sent.
    *chunk_id_out = Some(chunk_id.chars().take(160).collect());
    let (id_runner, ..) = receiver::parse_chunk_id(&chunk_id).ok_or(ApiError::InvalidChunkId)?;
    if id_runner != runner.runner_id {
        return Err(ApiError::ChunkIdMismatch(id_runner.to_string()));
    }
    let headers = &request.head.headers;
    let zstd = match headers.get(CONTENT_ENCODING).map(|v| v.to_str().map(str::trim)) {
        None => false,
        Some(Ok(v)) if v.eq_ignore_ascii_case("identity") || v.is_empty() => false,
        Some(Ok(v)) if v.eq_ignore_ascii_case("zstd") => true,
        Some(v) => return Err(ApiError::UnsupportedEncoding(v.unwrap_or("?").chars().take(64).collect())),
    };
    let declared = content_length(headers);
    if declared.is_some_and(|n| n > MAX_CHUNK_BYTES as u64) {
        return Err(ApiError::ChunkTooLarge(MAX_CHUNK_BYTES));
    }
    if app.shutting_down.load(Ordering::SeqCst) {
        return Err(ApiError::Unavailable("shutting down; retry later".into()));
    }
    let _upload = app.uploads.try_acquire().map_err(|_| ApiError::Unavailable("too many concurrent uploads".into()))?;
    let reserve = match declared {
        Some(n) if !zstd => n as usize,
        _ => MAX_CHUNK_BYTES,
    };
    let _memory = app
        .upload_memory
        .try_acquire_many(reserve.div_ceil(1024).max(1) as u32)
        .map_err(|_| ApiError::Unavailable("upload memory budget exhausted".into()))?;
    let body =
        request.body(MAX_CHUNK_BYTES).await.map_err(|e| body_error(e, ApiError::ChunkTooLarge(MAX_CHUNK_BYTES)))?;
    app.metrics.received_bytes.inc_by(body.len() as u64);
    let mut upload = Upload {
        tenant: runner.tenant.clone(),
        runner_id: runner.runner_id.clone(),
        chunk_id,
        received_at_ms: now_ms(),
        bytes: body.len() as u64,
        records: Vec::new(),
        known: true,
    };
    // A retry of a stored chunk skips decoding; the committer still answers only once the chunk is durable.
    if !app.store.chunk_seen(&upload.chunk_id)? {
        upload.known = false;
        let verified = tokio::task::spawn_blocking(move || {
            let bytes = if zstd {
                Codec::Zstd.decompress(&body, MAX_CHUNK_BYTES).map_err(|e| match e {
                    CodecError::TooLarge(_) => ApiError::ChunkTooLarge(MAX_CHUNK_BYTES),
                    other => ApiError::InvalidChunk(format!("Content-Encoding zstd: {other}")),
                })?
            } else {
                body
            };
            let verified = receiver::verify_chunk(&bytes).map_err(ApiError::InvalidChunk)?;
            Ok::<_, ApiError>((verified, bytes.len()))
        })
        .await
        .map_err(|_| ApiError::Unavailable("verification was interrupted".into()))??;
        upload.bytes = verified.1 as u64;
        upload.records = verified.0.records;
    }
    let stored = app.committer.commit(upload).await?;
    let metrics = &app.metrics;
    metrics.records_stored.inc_by(u64::from(stored.records));
    metrics.records_duplicate.inc_by(u64::from(stored.duplicate_records));
    metrics.stored_bytes.inc_by(stored.bytes);
    metrics.stored_raw_bytes.inc_by(stored.raw_bytes);
    Ok(stored)
}
