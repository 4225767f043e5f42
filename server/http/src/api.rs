//! The API's one table: every endpoint with its method, path, summary and
//! body and result types. The router is built from it and so is the OpenAPI
//! document (`schemas/openapi.json`, drift-checked), so neither can list a
//! route the other lacks.

use axum::routing::{MethodRouter, get, post};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::handlers::{
    self as h, AddProject, BreakerBody, EventsPage, Health, PrdBody, RunBody, TaskBody,
};
use crate::projects::ProjectSummary;

pub struct Endpoint {
    pub method: &'static str,
    /// axum's syntax: `{id}` a segment, `{*key}` the rest.
    pub path: &'static str,
    pub summary: &'static str,
    /// Whether the token is needed (everything but the health check).
    pub auth: bool,
    pub body: Option<fn(&mut SchemaGenerator) -> Schema>,
    pub result: fn(&mut SchemaGenerator) -> Schema,
    /// Also answers `text/event-stream`.
    pub sse: bool,
    pub route: fn() -> MethodRouter<AppState>,
}

fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

fn any(_: &mut SchemaGenerator) -> Schema {
    Schema::from(true)
}

macro_rules! endpoint {
    ($method:literal $path:literal, $summary:literal, auth: $auth:literal, body: $body:expr, result: $result:expr, sse: $sse:literal, $route:expr) => {
        Endpoint {
            method: $method,
            path: $path,
            summary: $summary,
            auth: $auth,
            body: $body,
            result: $result,
            sse: $sse,
            route: || $route,
        }
    };
}

pub const ENDPOINTS: &[Endpoint] = &[
    endpoint!("get" "/health", "Liveness: the daemon answers.", auth: false, body: None, result: schema::<Health>, sse: false, get(h::health)),
    endpoint!("get" "/metrics", "Every registered project's counts, in Prometheus' text format.", auth: true, body: None, result: any, sse: false, get(h::prometheus)),
    endpoint!("get" "/api/v1/projects", "Every registered project with its progress, run state, last activity and cost; a project whose directory is gone is listed as missing.", auth: true, body: None, result: schema::<Vec<ProjectSummary>>, sse: false, get(h::list_projects)),
    endpoint!("post" "/api/v1/projects", "Registers a project directory.", auth: true, body: Some(schema::<AddProject>), result: schema::<tdd_engine::registry::ProjectEntry>, sse: false, post(h::add_project)),
    endpoint!("get" "/api/v1/projects/{id}/snapshot", "The project's whole state as of `last_seq`.", auth: true, body: None, result: schema::<tdd_engine::view::Snapshot>, sse: false, get(h::snapshot)),
    endpoint!("get" "/api/v1/projects/{id}/events", "The event log after `after` (JSON), or with `Accept: text/event-stream` a stream of every entry after `Last-Event-ID` (or `after`), then each new one; each SSE `id` is the entry's sequence number.", auth: true, body: None, result: schema::<EventsPage>, sse: true, get(h::events)),
    endpoint!("get" "/api/v1/projects/{id}/tasks/{*key}", "One task: attempts, verdicts, reports, stage diffs and events.", auth: true, body: None, result: schema::<tdd_engine::view::TaskDetail>, sse: false, get(h::task_detail)),
    endpoint!("get" "/api/v1/projects/{id}/metrics", "Stage durations, verdicts, breaker trips, usage, merges over time.", auth: true, body: None, result: schema::<tdd_engine::view::Metrics>, sse: false, get(h::metrics)),
    endpoint!("post" "/api/v1/projects/{id}/preview", "Validates a PRD (a path, or a path with its text uploaded) and plans it without storing: diagnostics and the dry-run task graph.", auth: true, body: Some(schema::<PrdBody>), result: any, sse: false, post(h::preview)),
    endpoint!("post" "/api/v1/projects/{id}/decompose", "Decomposes a PRD into tasks and stores the plan.", auth: true, body: Some(schema::<PrdBody>), result: any, sse: false, post(h::decompose)),
    endpoint!("post" "/api/v1/projects/{id}/run", "Starts (or with `resume` goes on with) a run of a decomposed PRD in the daemon: 202, then the event log tells.", auth: true, body: Some(schema::<RunBody>), result: any, sse: false, post(h::run)),
    endpoint!("post" "/api/v1/projects/{id}/pause", "Asks the project's running run to pause.", auth: true, body: None, result: any, sse: false, post(h::pause)),
    endpoint!("post" "/api/v1/projects/{id}/continue", "Lets a paused run go on.", auth: true, body: None, result: any, sse: false, post(h::proceed)),
    endpoint!("post" "/api/v1/projects/{id}/cancel", "Asks the project's running run to stop now.", auth: true, body: None, result: any, sse: false, post(h::cancel)),
    endpoint!("post" "/api/v1/projects/{id}/retry", "Puts a failed, blocked or skipped task back to pending.", auth: true, body: Some(schema::<TaskBody>), result: any, sse: false, post(h::retry)),
    endpoint!("post" "/api/v1/projects/{id}/skip", "Skips a task.", auth: true, body: Some(schema::<TaskBody>), result: any, sse: false, post(h::skip)),
    endpoint!("post" "/api/v1/projects/{id}/done", "With the human worker: you finished the stage the task waits on.", auth: true, body: Some(schema::<TaskBody>), result: any, sse: false, post(h::done)),
    endpoint!("post" "/api/v1/projects/{id}/breakers/reset", "Closes a circuit breaker.", auth: true, body: Some(schema::<BreakerBody>), result: any, sse: false, post(h::reset_breaker)),
    endpoint!("post" "/api/v1/projects/{id}/breakers/isolate", "Opens a circuit breaker until it is reset.", auth: true, body: Some(schema::<BreakerBody>), result: any, sse: false, post(h::isolate_breaker)),
];

/// The OpenAPI 3.1 document of [`ENDPOINTS`].
pub fn openapi() -> String {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let mut paths: Map<String, Value> = Map::new();
    for endpoint in ENDPOINTS {
        let path = endpoint.path.replace("{*key}", "{key}");
        let mut parameters = Vec::new();
        for name in ["id", "key"] {
            if path.contains(&format!("{{{name}}}")) {
                parameters.push(json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }));
            }
        }
        let result = (endpoint.result)(&mut generator);
        let mut content = json!({ "application/json": { "schema": result } });
        if endpoint.sse {
            content["text/event-stream"] = json!({ "schema": { "type": "string" } });
        }
        let mut operation = json!({
            "summary": endpoint.summary,
            "responses": {
                "200": { "description": "OK", "content": content },
                "401": { "description": "No valid token" },
                "404": { "description": "No such project or task" },
            },
        });
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = endpoint.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": body(&mut generator) } },
            });
            operation["responses"]["413"] = json!({ "description": "Body larger than 1 MiB" });
        }
        if endpoint.auth {
            operation["security"] = json!([{ "bearer": [] }, { "cookie": [] }]);
        }
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[endpoint.method] = operation;
    }
    let definitions = generator.take_definitions(true);
    let document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tdd-orchestrator daemon",
            "version": "1",
            "description": "The panel's view of every registered project, and the actions the CLI offers. Served by `tdd-orchestrator serve`; see docs/http-api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions,
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "cookie": { "type": "apiKey", "in": "cookie", "name": crate::auth::COOKIE },
            },
        },
    });
    let mut text = serde_json::to_string_pretty(&document).expect("the document serialises");
    text.push('\n');
    text
}
