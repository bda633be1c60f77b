//! OpenTelemetry traces over OTLP/HTTP, when `[telemetry]` or the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` asks for them (docs/operations.md, "Traces").
//!
//! The `tracing` spans are the trace: `main` adds a `tracing-opentelemetry` layer to the
//! subscriber, so the HTTP request's span (`http{method, route, request_id}`, `app.rs`), the
//! tick that applies its command (`tick{tick, commands}`) and the tick's store commit
//! (`commit`) become OpenTelemetry spans. The request's span records the `tick` that applied
//! its command, and the tick's span links back to the requests whose commands it applied
//! ([`origin`], [`link`]; at most [`MAX_TICK_LINKS`] per tick).
//!
//! Spans go to a batch processor (its own thread) and are sent as OTLP protobuf by
//! [`RuntimeClient`]: the reqwest client the workspace already has, run on the server's tokio
//! runtime, so no second HTTP stack and no gRPC. Off (the default), none of this exists: no
//! layer, no exporter, no thread; [`origin`] is one relaxed atomic load.
//!
//! Only spans and events of our own crates at `info` and above are exported, whatever
//! `RUST_LOG` says for the log lines; a tick that applies no command is not exported (an idle
//! server ticks ten times a second): its spans have the target [`IDLE_TARGET`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::{SpanContext, TraceContextExt as _, TracerProvider as _};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

use crate::settings::{TelemetrySection, check_otlp_endpoint};

/// The target of a tick's spans when it applies no command: shown in logs like the others,
/// never exported.
pub const IDLE_TARGET: &str = "matchwright_server::tick::idle";
/// Links from one tick's span to the requests it applied; the rest are not linked (each
/// request's span still records its `tick`). The SDK's own limit per span is 128 too.
pub const MAX_TICK_LINKS: usize = 128;
/// How long the exit waits for the last spans to be sent.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// One export's time, connecting and reading the answer included.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the collector (an OTLP answer is a few bytes).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The standard variables read (besides those the OTLP exporter reads itself:
/// `OTEL_EXPORTER_OTLP_HEADERS`, `_TIMEOUT`; and the SDK: `OTEL_TRACES_SAMPLER`,
/// `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_MAX_QUEUE_SIZE`, ...).
pub const TRACES_ENDPOINT_VARIABLE: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// The base address; `/v1/traces` is added.
pub const ENDPOINT_VARIABLE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `true` turns traces off whatever else is set.
pub const DISABLED_VARIABLE: &str = "OTEL_SDK_DISABLED";
/// Must be `http/protobuf` when set: the only protocol exported.
pub const PROTOCOL_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
];

/// Whether spans are exported (set once, by [`Telemetry::start`]).
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Where spans go, and which setting said so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The full URL spans are POSTed to (`.../v1/traces`).
    pub url: String,
    /// `[telemetry] otlp_endpoint` or the variable it came from.
    pub source: &'static str,
}

/// Where spans go: `[telemetry] otlp_endpoint` (plus `/v1/traces`), else
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (as it is), else `OTEL_EXPORTER_OTLP_ENDPOINT` (plus
/// `/v1/traces`); `None` (off) when none is set or `OTEL_SDK_DISABLED=true`. `variable` reads
/// the environment (`main`: `std::env::var`); an empty variable is unset, as the
/// specification says.
pub fn endpoint(
    settings: &TelemetrySection,
    variable: impl Fn(&str) -> Option<String>,
) -> Result<Option<Endpoint>, String> {
    let variable = |name: &str| variable(name).filter(|value| !value.trim().is_empty());
    if variable(DISABLED_VARIABLE).is_some_and(|value| value.trim().eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let endpoint = if let Some(base) = &settings.otlp_endpoint {
        Endpoint {
            url: traces_url(base),
            source: "[telemetry] otlp_endpoint",
        }
    } else if let Some(url) = variable(TRACES_ENDPOINT_VARIABLE) {
        Endpoint {
            url,
            source: TRACES_ENDPOINT_VARIABLE,
        }
    } else if let Some(base) = variable(ENDPOINT_VARIABLE) {
        Endpoint {
            url: traces_url(&base),
            source: ENDPOINT_VARIABLE,
        }
    } else {
        return Ok(None);
    };
    check_otlp_endpoint(&endpoint.url).map_err(|why| format!("{}: {why}", endpoint.source))?;
    for name in PROTOCOL_VARIABLES {
        if let Some(protocol) = variable(name)
            && protocol.trim() != "http/protobuf"
        {
            return Err(format!(
                "{name} is `{protocol}`: matchwright exports traces over OTLP/HTTP with \
                 protobuf (`http/protobuf`) only"
            ));
        }
    }
    Ok(Some(endpoint))
}

/// A base address's traces URL, as the specification builds it from
/// `OTEL_EXPORTER_OTLP_ENDPOINT`.
fn traces_url(base: &str) -> String {
    format!("{}/v1/traces", base.trim_end_matches('/'))
}

/// The exporter, running: its spans' provider, flushed by [`Telemetry::shutdown`].
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Builds the exporter to `endpoint` (its HTTP requests run on `runtime`) and the batch
    /// processor. Nothing is sent until spans end.
    pub fn start(
        settings: &TelemetrySection,
        endpoint: &Endpoint,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|error| format!("cannot build the OTLP HTTP client: {error}"))?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint.url.clone())
            .with_http_client(RuntimeClient { client, runtime })
            .build()
            .map_err(|error| format!("OTLP exporter ({}): {error}", endpoint.source))?;
        let batches = BatchConfigBuilder::default()
            .with_scheduled_delay(Duration::from_millis(settings.batch_delay_ms))
            .build();
        let resource = Resource::builder()
            .with_service_name(settings.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::new(exporter, batches))
            .with_resource(resource)
            .build();
        EXPORTING.store(true, Ordering::Relaxed);
        Ok(Self { provider })
    }

    /// The subscriber layer that turns our spans into OpenTelemetry spans: our crates'
    /// spans and events at `info` and above, idle ticks left out (its own filter, not
    /// `RUST_LOG`'s).
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        let scope = InstrumentationScope::builder("matchwright")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let tracer = self.provider.tracer_with_scope(scope);
        let ours = Targets::new()
            .with_target("matchwright", LevelFilter::INFO)
            .with_target(IDLE_TARGET, LevelFilter::OFF);
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(ours)
    }

    /// Sends the spans not yet sent, waiting at most [`SHUTDOWN_TIMEOUT`]; call it while the
    /// tokio runtime still runs (the exporter's requests run there).
    pub fn shutdown(self) -> Result<(), String> {
        EXPORTING.store(false, Ordering::Relaxed);
        self.provider
            .shutdown_with_timeout(SHUTDOWN_TIMEOUT)
            .map_err(|error| error.to_string())
    }
}

/// The OTLP exporter's HTTP client: the workspace's reqwest, run on the server's runtime (the
/// batch processor's thread has none), the answer read up to [`MAX_RESPONSE_BYTES`].
#[derive(Debug)]
struct RuntimeClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let mut response = client.execute(request.try_into()?).await?;
            let mut answer = Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = std::mem::take(response.headers_mut());
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(HttpError::from(format!(
                        "the collector's answer is over {MAX_RESPONSE_BYTES} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(answer.body(Bytes::from(body))?)
        });
        sent.await?
    }
}

/// The request a command comes from: the current span's OpenTelemetry context, for the tick
/// that applies the command to link to. `None` when spans are not exported (one atomic load).
#[derive(Clone, Debug)]
pub struct Origin(Box<SpanContext>);

/// The current span as an [`Origin`], when spans are exported and there is one.
pub fn origin() -> Option<Origin> {
    if !exporting() {
        return None;
    }
    let context = tracing::Span::current().context();
    let span = context.span().span_context().clone();
    span.is_valid().then(|| Origin(Box::new(span)))
}

/// Links `span` (a tick's) to the requests `origins` came from.
pub fn link(span: &tracing::Span, origins: impl IntoIterator<Item = Origin>) {
    for Origin(origin) in origins {
        span.add_link(*origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        otlp_endpoint: Option<&str>,
        variables: &[(&str, &str)],
    ) -> Result<Option<Endpoint>, String> {
        let settings = TelemetrySection {
            otlp_endpoint: otlp_endpoint.map(str::to_owned),
            ..TelemetrySection::default()
        };
        endpoint(&settings, |name| {
            variables
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn off_unless_the_config_or_a_standard_variable_names_a_collector() {
        assert_eq!(resolve(None, &[]), Ok(None));
        assert_eq!(resolve(None, &[(ENDPOINT_VARIABLE, "")]), Ok(None));
        let config = resolve(Some("http://collector:4318/"), &[])
            .unwrap()
            .unwrap();
        assert_eq!(config.url, "http://collector:4318/v1/traces");
        let base = resolve(None, &[(ENDPOINT_VARIABLE, "http://agent:4318")])
            .unwrap()
            .unwrap();
        assert_eq!(base.url, "http://agent:4318/v1/traces");
        assert_eq!(base.source, ENDPOINT_VARIABLE);
        // The traces variable is a full URL, and beats the base; the config beats both.
        let both = [
            (ENDPOINT_VARIABLE, "http://agent:4318"),
            (TRACES_ENDPOINT_VARIABLE, "http://traces:4318/custom"),
        ];
        assert_eq!(
            resolve(None, &both).unwrap().unwrap().url,
            "http://traces:4318/custom"
        );
        assert_eq!(
            resolve(Some("http://collector:4318"), &both)
                .unwrap()
                .unwrap()
                .source,
            "[telemetry] otlp_endpoint"
        );
        let disabled = [
            (ENDPOINT_VARIABLE, "http://agent:4318"),
            (DISABLED_VARIABLE, "true"),
        ];
        assert_eq!(resolve(Some("http://collector:4318"), &disabled), Ok(None));
    }

    #[test]
    fn an_endpoint_or_protocol_the_exporter_cannot_use_is_an_error() {
        let https = resolve(None, &[(ENDPOINT_VARIABLE, "https://agent:4318")]).unwrap_err();
        assert!(
            https.contains(ENDPOINT_VARIABLE) && https.contains("http://"),
            "{https}"
        );
        let grpc = resolve(
            Some("http://collector:4318"),
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
        )
        .unwrap_err();
        assert!(grpc.contains("http/protobuf"), "{grpc}");
        assert!(
            resolve(
                Some("http://collector:4318"),
                &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]
            )
            .is_ok()
        );
    }

    #[test]
    fn no_origin_when_spans_are_not_exported() {
        assert!(!exporting());
        assert!(origin().is_none());
    }
}
