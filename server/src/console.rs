//! The operators' web console (docs/console.md): one page, its script and its style, compiled
//! into the binary (`include_str!` of `server/console/`), served at `/console` by `serve` and
//! `gateway` alike. Nothing is built on the user's machine beyond `cargo build`, and the
//! console needs nothing but the admin API: it signs in with an operator key (kept in the
//! tab's session storage, sent as `Authorization: Bearer KEY`), reads the admin routes, and
//! reads the live event stream (`GET /v1/admin/events`) with `fetch`, since an `EventSource`
//! cannot send the key.
//!
//! The pages carry a strict Content-Security-Policy: scripts and styles from this server
//! only (no inline script, no `eval`), requests to this server only, no framing. The script
//! writes every value it shows as text (`textContent`), never as HTML: a display name
//! holding markup is shown as the characters it is.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

const PAGE: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

/// The console's Content-Security-Policy.
pub const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// `/console` (the page), `/console/console.js`, `/console/console.css`; `/console/` is
/// sent to `/console`. The assets need no state: whatever the router's is, they take.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/console",
            get(|| async { asset(PAGE, "text/html; charset=utf-8") }),
        )
        .route(
            "/console/",
            get(|| async { Redirect::permanent("/console") }),
        )
        .route(
            "/console/console.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
}

/// One asset with its type and the console's security headers. Not cached across versions:
/// a browser asks again (`no-cache`), so an upgraded server serves its own script.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    let mut set = |name, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::CONTENT_TYPE, content_type);
    set(header::CACHE_CONTROL, "no-cache");
    set(header::CONTENT_SECURITY_POLICY, POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_the_assets_served_here() {
        for path in ["/console/console.js", "/console/console.css"] {
            assert!(PAGE.contains(&format!("\"{path}\"")), "{path}");
        }
        assert!(
            !PAGE.contains("<script>"),
            "no inline script: the policy forbids it"
        );
        assert!(
            !PAGE.contains("style="),
            "no inline style: the policy forbids it"
        );
    }

    /// The script writes text only: none of the calls that parse a string as HTML or code.
    #[test]
    fn the_script_never_parses_strings_as_html_or_code() {
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "setTimeout(\"",
        ] {
            assert!(!SCRIPT.contains(forbidden), "console.js uses {forbidden}");
        }
    }
}
