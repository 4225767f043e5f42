//! One plain HTTP POST for the engine's own deliveries (webhooks): no
//! retries (the caller keeps its own schedule), no redirects, bounded
//! waits. It lives here so that this crate stays the only one that speaks
//! HTTP and sets up TLS.

use std::time::Duration;

use reqwest::blocking::Client;

use crate::api::http::install_crypto_provider;

/// A reusable client for [`Poster::post`].
#[derive(Clone, Debug)]
pub struct Poster {
    client: Client,
}

/// What became of one POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Posted {
    /// The receiver answered with this status (any status, 2xx or not).
    Answered(u16),
    /// No answer: why, without the URL (it may carry a token).
    Failed(String),
}

impl Poster {
    /// `timeout` bounds the connection and the whole exchange.
    pub fn new(timeout: Duration) -> Result<Poster, String> {
        install_crypto_provider();
        Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map(|client| Poster { client })
            .map_err(|e| format!("cannot build the HTTP client: {e}"))
    }

    /// POSTs `body` with `headers` to `url`.
    pub fn post(&self, url: &str, headers: &[(&str, &str)], body: String) -> Posted {
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        match request.send() {
            Ok(response) => Posted::Answered(response.status().as_u16()),
            Err(e) if e.is_timeout() => Posted::Failed("no answer in time".into()),
            Err(e) if e.is_connect() => Posted::Failed("could not connect".into()),
            Err(_) => Posted::Failed("the request failed".into()),
        }
    }
}

/// `500 Internal Server Error`: a status as its status line says it.
pub fn status_line(code: u16) -> String {
    match reqwest::StatusCode::from_u16(code) {
        Ok(status) => status.to_string(),
        Err(_) => code.to_string(),
    }
}
