//! The operations endpoints of a matcher partition process (`matchwright matcher --http`):
//! `/healthz` (the process answers), `/readyz` (the replica follows a live leader or leads:
//! `PartitionStatus::not_ready`) and `/metrics` (the partition's metrics, Prometheus text).
//! Served by the server's own listener, with its connection caps and timeouts.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use matchwright_cluster::status::PartitionStatus;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::clock::unix_ms;
use crate::listener::ConnectionLimits;

#[derive(Clone)]
struct Ops {
    status: Arc<PartitionStatus>,
    metrics: PrometheusHandle,
}

/// Serves the endpoints on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    status: Arc<PartitionStatus>,
    shutdown: impl Future<Output = ()>,
) {
    let ops = Ops {
        status,
        metrics: crate::app::metrics_handle(),
    };
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ops);
    let limits = ConnectionLimits {
        max_connections: 64,
        max_per_ip: 0,
        header_timeout: Duration::from_secs(5),
        write_timeout: Duration::from_secs(10),
        name: "operations",
        shutdown_grace: Duration::from_secs(1),
    };
    crate::listener::serve(listener, router, limits, shutdown).await;
}

fn body(status: &PartitionStatus, state: &str) -> serde_json::Value {
    serde_json::json!({
        "status": state,
        "partition": status.partition(),
        "role": if status.leading() { "leader" } else { "standby" },
        "tick": status.tick(),
    })
}

async fn healthz(State(ops): State<Ops>) -> Response {
    axum::Json(body(&ops.status, "ok")).into_response()
}

async fn readyz(State(ops): State<Ops>) -> Response {
    match ops.status.not_ready(unix_ms()) {
        None => axum::Json(body(&ops.status, "ready")).into_response(),
        Some(reason) => {
            // The shape of every error (`WireError`), with the partition's figures.
            let mut answer = body(&ops.status, "not_ready");
            answer["status"] = 503.into();
            answer["error"] = "not_ready".into();
            answer["message"] = reason.into();
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(answer)).into_response()
        }
    }
}

async fn metrics(State(ops): State<Ops>) -> Response {
    crate::instruments::sample_process();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        ops.metrics.render(),
    )
        .into_response()
}
