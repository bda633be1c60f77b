//! OpenTelemetry traces from the real binary to an in-process OTLP/HTTP receiver (an axum
//! route decoding the exporter's protobuf): the request's span with its request id, the tick
//! that applied its command (linked to it) and the tick's commit; the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` variable; and the spans still waiting at exit sent before it.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use common::{Client, NO_IP_LIMITS, Server, write_config_with};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;
use serde_json::json;

/// The longest any one wait of these tests may take.
const WAIT: Duration = Duration::from_secs(20);

/// One span as the receiver got it.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    attributes: HashMap<String, String>,
    /// (trace id, span id) of each link.
    links: Vec<(Vec<u8>, Vec<u8>)>,
}

type Spans = Arc<Mutex<Vec<Received>>>;

/// An OTLP/HTTP receiver on 127.0.0.1: `POST /v1/traces`, protobuf.
struct Receiver {
    address: SocketAddr,
    spans: Spans,
}

impl Receiver {
    async fn start() -> Self {
        let spans = Spans::default();
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(accept))
            .with_state(Arc::clone(&spans));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { address, spans }
    }

    fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits (at most `limit`) until `found` finds something in the spans received.
    async fn wait_for<T>(
        &self,
        limit: Duration,
        what: &str,
        found: impl Fn(&[Received]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            let spans = self.spans();
            if let Some(value) = found(&spans) {
                return value;
            }
            if Instant::now() > deadline {
                let names: Vec<(&str, &HashMap<String, String>)> = spans
                    .iter()
                    .map(|span| (span.name.as_str(), &span.attributes))
                    .collect();
                panic!("no {what} within {limit:?}; received: {names:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        other => format!("{other:?}"),
    }
}

fn attributes(list: &[KeyValue]) -> HashMap<String, String> {
    list.iter()
        .map(|pair| (pair.key.clone(), text(pair.value.as_ref())))
        .collect()
}

/// `POST /v1/traces`: keeps the spans, answers an empty `ExportTraceServiceResponse`.
async fn accept(State(spans): State<Spans>, body: Bytes) -> (StatusCode, Vec<u8>) {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    let mut received = Vec::new();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .map(|resource| attributes(&resource.attributes))
            .and_then(|mut attributes| attributes.remove("service.name"))
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                received.push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_span_id: span.parent_span_id,
                    attributes: attributes(&span.attributes),
                    links: span
                        .links
                        .into_iter()
                        .map(|link| (link.trace_id, link.span_id))
                        .collect(),
                });
            }
        }
    }
    spans.lock().unwrap().extend(received);
    (StatusCode::OK, Vec::new())
}

/// The standard variables a developer's shell might set, removed unless `set`.
fn otel_variables(set: &[(&'static str, String)]) -> Vec<(&'static str, Option<String>)> {
    let mut variables: Vec<(&'static str, Option<String>)> = [
        "OTEL_SDK_DISABLED",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_TRACES_SAMPLER",
    ]
    .into_iter()
    .map(|name| (name, None))
    .collect();
    for (name, value) in set {
        variables.retain(|(other, _)| other != name);
        variables.push((name, Some(value.clone())));
    }
    variables
}

fn start(dir: &std::path::Path, telemetry: &str, set: &[(&'static str, String)]) -> Server {
    let config = write_config_with(dir, &format!("{NO_IP_LIMITS}\n[telemetry]\n{telemetry}"));
    let variables = otel_variables(set);
    let variables: Vec<(&str, Option<&str>)> = variables
        .iter()
        .map(|(name, value)| (*name, value.as_deref()))
        .collect();
    Server::start_env(&dir.join("data"), &config, &[], &variables)
}

/// Registers a player and queues them with the request id `request_id`.
async fn queue_with_request_id(base: &str, request_id: &str) {
    let client = Client {
        http: reqwest::Client::builder().timeout(WAIT).build().unwrap(),
        base: base.to_owned(),
    };
    let (_, token) = client.register(&format!("p-{request_id}")).await;
    let response = client
        .http
        .post(format!("{base}/v1/queue"))
        .bearer_auth(&token)
        .header("x-request-id", request_id)
        .json(&json!({"queue": "duel-1v1", "pings": {"eu-west": 30}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-request-id"], request_id);
}

/// The `http` span of the request with `request_id`.
fn request_span(spans: &[Received], request_id: &str) -> Option<Received> {
    spans
        .iter()
        .find(|span| {
            span.name == "http"
                && span.attributes.get("request_id").map(String::as_str) == Some(request_id)
        })
        .cloned()
}

/// Stops the server with SIGTERM and waits at most `limit` for it to exit, successfully.
fn stop_within(mut server: Server, limit: Duration) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + limit;
    loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            assert!(exit.success(), "the server stopped with {exit}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit within {limit:?} of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 18 item 5: a request's span arrives with its request id, its tick's span (linked to
/// it, carrying the tick it recorded) and that tick's commit span, as a child of the tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_its_tick_and_the_commit_arrive_as_spans_with_the_request_id() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &format!(
            "otlp_endpoint = \"http://{}\"\nservice_name = \"matchwright-otlp-test\"\n\
             batch_delay_ms = 100\n",
            receiver.address
        ),
        &[],
    );
    queue_with_request_id(&server.base, "otlp-test-123").await;

    let (request, tick, commit) = receiver
        .wait_for(WAIT, "request, tick and commit spans", |spans| {
            let request = request_span(spans, "otlp-test-123")?;
            let applied = request.attributes.get("tick")?;
            let tick = spans
                .iter()
                .find(|span| span.name == "tick" && span.attributes.get("tick") == Some(applied))?;
            let commit = spans.iter().find(|span| {
                span.name == "commit"
                    && span.trace_id == tick.trace_id
                    && span.parent_span_id == tick.span_id
            })?;
            Some((request.clone(), tick.clone(), commit.clone()))
        })
        .await;
    assert_eq!(request.service, "matchwright-otlp-test");
    assert_eq!(request.attributes["method"], "POST");
    assert_eq!(request.attributes["route"], "/v1/queue");
    assert!(
        tick.links
            .contains(&(request.trace_id.clone(), request.span_id.clone())),
        "the tick links to the request: {tick:#?} {request:#?}"
    );
    assert!(tick.attributes["commands"].parse::<u64>().unwrap() >= 1);
    assert_eq!(commit.service, "matchwright-otlp-test");
    // Ticks without commands (twenty a second here) are never exported.
    let spans = receiver.spans();
    for span in spans.iter().filter(|span| span.name == "tick") {
        assert_ne!(span.attributes["commands"], "0", "{span:#?}");
    }
    stop_within(server, WAIT);
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` alone turns export on, and SIGTERM sends the spans still
/// waiting for their batch (a batch delay of ten minutes here) before the process exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_variable_turns_traces_on_and_the_exit_sends_the_last_spans() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        "batch_delay_ms = 600000\n",
        &[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{}", receiver.address),
        )],
    );
    queue_with_request_id(&server.base, "otlp-flush-456").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        request_span(&receiver.spans(), "otlp-flush-456").is_none(),
        "sent before its batch was due"
    );
    let stopping = tokio::task::spawn_blocking(move || stop_within(server, WAIT));
    tokio::time::timeout(WAIT * 2, stopping)
        .await
        .unwrap()
        .unwrap();
    // The exit waited for the export: the spans are here already.
    let request = receiver
        .wait_for(
            Duration::from_secs(1),
            "request span after the exit",
            |spans| request_span(spans, "otlp-flush-456"),
        )
        .await;
    assert_eq!(request.service, "matchwright");
    assert!(request.attributes.contains_key("tick"), "{request:#?}");
}
