//! The OpenAPI document of the API. The operations come from the command declaration
//! (`reviewdesk_api::visit_all`: path, method, operationId, summary, success status and documented
//! failures); the JSON schemas of bodies and answers are written as data here, which keeps the core
//! free of a second set of schema derives beside the TypeScript bindings. It is complete enough to
//! drive a fuzzer (`make test` runs Schemathesis against it): every route, body, success and error
//! answer.

use reviewdesk_api::{Body, Command, Method, Visit};
use reviewdesk_core::Status;
use serde_json::{Value, json};

/// What can go wrong on a route, beyond its success answer.
#[derive(Clone, Copy)]
struct Fails {
    /// Takes a JSON body (400 unreadable, 413 too large, 415 not JSON, 422 invalid).
    body: bool,
    /// Names a task (404 when there is none).
    task: bool,
    /// Changes a task's status (409 when the move is refused or someone else was first).
    decides: bool,
    /// Validates something besides the body (a query or path value): 422.
    validates: bool,
}

const READ: Fails = Fails {
    body: false,
    task: false,
    decides: false,
    validates: false,
};

/// The OpenAPI schema of a command's answer, from its TypeScript name (`Task`, `Array<Task>`).
fn answer_schema(ts_name: &str) -> Option<Value> {
    match ts_name {
        "null" => None,
        _ => Some(match ts_name.strip_prefix("Array<") {
            Some(inner) => {
                json!({"type": "array", "items": schema_ref(inner.trim_end_matches('>'))})
            }
            None => schema_ref(ts_name),
        }),
    }
}

/// The parameters of a path (`{id}` a task id, `{name}` an asset name) and, for a GET, its query.
fn parameters(name: &str, path_params: impl Iterator<Item = &'static str>) -> Value {
    let mut params: Vec<Value> = path_params
        .map(|p| match p {
            "id" => json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}),
            "scene" => json!({"name": "scene", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 18}}),
            other => json!({"name": other, "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,100}$"}}),
        })
        .collect();
    if name == "media_peaks" || name == "media_chapters" {
        params.push(json!({"name": "file", "in": "query", "required": true, "schema": {"type": "string", "minLength": 1}, "description": "a file relative to the workspace"}));
    }
    if name == "get_notion_link" {
        params.push(json!({"name": "asset", "in": "query", "required": false, "schema": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,100}$"}}));
    }
    if name == "export_audit" {
        params.extend([
            json!({"name": "from", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}, "description": "first day (UTC), YYYY-MM-DD"}),
            json!({"name": "to", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}, "description": "last day (UTC), included"}),
            json!({"name": "channel_id", "in": "query", "required": false, "schema": {"type": "string"}}),
            json!({"name": "format", "in": "query", "required": false, "schema": {"type": "string", "enum": ["csv", "json"]}}),
        ]);
    }
    if name == "list_tasks" {
        let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        let board_names: Vec<&str> = Status::ALL.iter().map(|s| s.board_name()).collect();
        params.extend([
            json!({"name": "statuses", "in": "query", "required": false, "style": "form", "explode": true,
                   "schema": {"type": "array", "items": {"type": "string", "enum": statuses.iter().chain(&board_names).collect::<Vec<_>>()}}}),
            json!({"name": "channel_id", "in": "query", "required": false, "schema": {"type": "string"}}),
            json!({"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 500}}),
            json!({"name": "q", "in": "query", "required": false, "schema": {"type": "string"}, "description": "only titles containing this text"}),
            json!({"name": "order", "in": "query", "required": false, "schema": {"type": "string", "enum": ["urgent", "recent"]}}),
            json!({"name": "before", "in": "query", "required": false, "schema": {"type": "string", "pattern": "^[0-9]{1,15}_[0-9a-f-]{36}$"}, "description": "with order=recent: the page after this cursor (`<epoch ms>_<task id>`)"}),
        ]);
    }
    if name == "get_board" {
        params.extend([
            json!({"name": "q", "in": "query", "required": false, "schema": {"type": "string"}, "description": "only titles containing this text"}),
            json!({"name": "latest", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 500}, "description": "how many of each finished status"}),
        ]);
    }
    Value::Array(params)
}

/// The operations of the commands offered over HTTP, by path and method.
#[derive(Default)]
struct Operations(serde_json::Map<String, Value>);

impl Visit for Operations {
    fn command<C: Command>(&mut self) {
        let Some(http) = C::DOORS.http else {
            return;
        };
        let body = match http.body {
            Body::None => None,
            Body::Empty => Some("Empty"),
            Body::Json(schema) => Some(schema),
        };
        let fails = Fails {
            body: body.is_some(),
            task: http.fails.not_found,
            decides: http.fails.conflict,
            validates: http.fails.invalid,
        };
        let answer = answer_schema(&<C::Output as ts_rs::TS>::name(&ts_rs::Config::new()));
        let mut o = op(C::SUMMARY, body, (http.ok, answer), fails);
        o["operationId"] = json!(C::NAME);
        let params = parameters(C::NAME, http.params());
        if params.as_array().is_some_and(|p| !p.is_empty()) {
            o["parameters"] = params;
        }
        if http.ok == 201 {
            o["responses"]["201"]["links"] = task_links();
        }
        let method = match http.method {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
        };
        let path = self
            .0
            .entry(format!("/api{}", http.path))
            .or_insert_with(|| json!({}));
        path[method] = o;
    }
}

fn error_ref(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// One operation: `ok` is the success status with its schema (`None`: no body).
fn op(summary: &str, body: Option<&str>, ok: (u16, Option<Value>), fails: Fails) -> Value {
    let mut responses = serde_json::Map::new();
    let (code, schema) = ok;
    responses.insert(
        code.to_string(),
        match schema {
            Some(s) => {
                json!({"description": summary, "content": {"application/json": {"schema": s}}})
            }
            None => json!({"description": summary}),
        },
    );
    // Every API route: a token (when the server requires one) and its own Host and Origin.
    responses.insert(
        "401".into(),
        error_ref("a token is required and was missing or wrong"),
    );
    responses.insert(
        "403".into(),
        error_ref("a foreign Host or Origin (DNS rebinding, CSRF)"),
    );
    if fails.body {
        responses.insert("400".into(), error_ref("the body could not be read"));
        responses.insert("413".into(), error_ref("the body is too large"));
        responses.insert(
            "415".into(),
            error_ref("the body is not Content-Type: application/json"),
        );
    }
    if fails.body || fails.validates || fails.decides {
        responses.insert(
            "422".into(),
            error_ref("invalid input; the message names the field"),
        );
    }
    if fails.task {
        responses.insert("404".into(), error_ref("no task (or asset) with that id"));
    }
    if fails.decides {
        responses.insert(
            "409".into(),
            error_ref("the move is refused from the task's status, or another decision was first"),
        );
    }
    let mut o = json!({"summary": summary, "responses": responses});
    if let Some(b) = body {
        o["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": schema_ref(b)}}});
    }
    o
}

/// Links from a created task to what can be done with it, so a fuzzer's stateful phase walks
/// real tasks instead of random ids.
fn task_links() -> Value {
    let by_id = json!({"id": "$response.body#/id"});
    let mut links = serde_json::Map::new();
    // Every operation whose only parameter is the task id.
    for (name, doors) in reviewdesk_api::declarations() {
        if let Some(http) = doors.http
            && http.params().eq(["id"])
        {
            links.insert(
                name.to_string(),
                json!({"operationId": name, "parameters": by_id}),
            );
        }
    }
    Value::Object(links)
}

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

fn string_enum(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

/// The document served at `/api/openapi.json`.
pub fn document() -> Value {
    let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    let finished: Vec<&str> = Status::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.as_str())
        .collect();
    let date_time = json!({"type": "string", "format": "date-time"});
    let nullable_date_time = json!({"type": ["string", "null"], "format": "date-time"});
    let task_schema = json!({
        "type": "object",
        "required": ["id", "channel_id", "title", "topic", "story_direction", "priority", "status",
                     "status_changed_at", "created_at", "updated_at", "notion_page_id",
                     "review_started_at", "review_completed_at", "error_log", "attempts",
                     "next_retry_at", "error_category", "correlation_id", "plan_file", "spent_usd"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "channel_id": {"type": "string", "pattern": "^[a-zA-Z0-9_]+$"},
            "title": {"type": "string"},
            "topic": {"type": "string"},
            "story_direction": {"type": "string"},
            "priority": string_enum(&["high", "normal", "low"]),
            "status": string_enum(&statuses),
            "status_changed_at": date_time,
            "created_at": date_time,
            "updated_at": date_time,
            "notion_page_id": nullable("string"),
            "review_started_at": nullable_date_time,
            "review_completed_at": nullable_date_time,
            "error_log": {"type": "string"},
            "attempts": {"type": "integer", "minimum": 0},
            "next_retry_at": nullable_date_time,
            "error_category": {"enum": ["transient", "permanent", "configuration", "quota", "unknown", null]},
            "correlation_id": {"type": "string"},
            "plan_file": nullable("string"),
            "spent_usd": {"type": "number", "minimum": 0}
        }
    });
    let mut openapi_op = op(
        "This document",
        None,
        (
            200,
            Some(json!({"type": "object", "required": ["openapi", "paths"]})),
        ),
        READ,
    );
    openapi_op["operationId"] = json!("openapi");
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "Review Desk API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Every write needs Content-Type: application/json and a same-origin request."},
        "paths": {
            "/api/openapi.json": {"get": openapi_op},
            "/api/events": {"get": {"summary": "Server-sent events: first `event: position` ({\"through\": the last event-log entry whose events the stream may not deliver}; a board read with events_through at or past it has missed nothing), then domain events (event: domain); the stream ends when the server stops",
                                    "responses": {"200": {"description": "text/event-stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                                                  "401": error_ref("a token is required"), "403": error_ref("a foreign Host or Origin")}}},
            "/api/notion/webhook": {"post": {"summary": "Notion's webhook: the verification handshake, then signed events. Browsers are refused (Origin, Sec-Fetch-Site).",
                                             "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                                             "responses": {"200": {"description": "accepted"}, "202": {"description": "accepted for later"},
                                                           "400": error_ref("unreadable body"), "401": error_ref("bad signature"),
                                                           "403": error_ref("a browser request"), "404": error_ref("the mirror is off"),
                                                           "409": error_ref("a verification token is already confirmed"),
                                                           "413": error_ref("the body is too large"), "415": error_ref("not JSON"),
                                                           "422": error_ref("not a Notion webhook"), "503": error_ref("the mirror is not running")}}},
            "/files/{path}": {"get": {"summary": "A workspace file (thumbnails, assets, clips, audio). Regular files only; media and JSON inline, anything else as a download; always `Content-Security-Policy: sandbox`. One `Range: bytes=` range is honoured; paths outside the workspace are 404",
                                      "parameters": [{"name": "path", "in": "path", "required": true, "schema": {"type": "string"}}],
                                      "responses": {"200": {"description": "the file", "content": {"*/*": {"schema": {}}}},
                                                    "206": {"description": "the requested range (Content-Range)", "content": {"*/*": {"schema": {}}}},
                                                    "304": {"description": "not modified"},
                                                    "401": error_ref("a token is required"), "403": error_ref("a foreign Host or Origin"),
                                                    "404": error_ref("no such file"),
                                                    "416": {"description": "the range lies past the end of the file"}}}}
        },
        "components": {"schemas": {
            "ApiError": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
            "Empty": {"type": "object"},
            "ApproveRequest": {"type": "object", "properties": {"note": nullable("string")}},
            "RejectRequest": {"type": "object", "required": ["feedback"], "properties": {"feedback": {"type": "string", "pattern": "\\S"}, "flags": {"type": ["array", "null"], "items": {"type": "string"}}}},
            "Diagnostics": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
            "Chapter": {"type": "object", "required": ["start_seconds", "title"], "properties": {
                "start_seconds": {"type": "number", "minimum": 0},
                "title": {"type": "string"}
            }},
            "Peaks": {"type": "object", "required": ["duration_ms", "peaks"], "properties": {
                "duration_ms": {"type": "integer", "minimum": 0},
                "peaks": {"type": "array", "minItems": 200, "maxItems": 200, "items": {"type": "integer", "minimum": 0, "maximum": 255}}
            }},
            "SceneEdit": {"type": "object", "minProperties": 1, "properties": {
                "narration": {"type": ["string", "null"], "minLength": 1, "maxLength": 400},
                "motion": {"type": ["string", "null"], "minLength": 1, "maxLength": 400},
                "sfx": {"type": ["string", "null"], "minLength": 1, "maxLength": 400}
            }, "additionalProperties": false},
            "Scene": {"type": "object", "required": ["number", "shows", "motion", "narration", "sfx"], "properties": {
                "number": {"type": "integer", "minimum": 1, "maximum": 18},
                "shows": {"type": "string"},
                "motion": {"type": "string"},
                "narration": {"type": "string"},
                "sfx": {"type": "string"}
            }},
            "ChannelForm": {"type": "object", "additionalProperties": false,
                "required": ["channel_id", "channel_name", "max_concurrent", "storage_strategy", "narration_voice", "is_active"],
                "properties": {
                    "original_id": nullable("string"),
                    "channel_id": {"type": "string", "pattern": "^[a-zA-Z0-9_]{1,100}$"},
                    "channel_name": {"type": "string", "pattern": "\\S", "maxLength": 200},
                    "max_concurrent": {"type": "integer", "minimum": 1, "maximum": 10},
                    "storage_strategy": string_enum(&["none", "notion", "r2"]),
                    "budget_daily_usd": {"type": ["number", "null"], "minimum": 0},
                    "narration_voice": {"type": "string", "pattern": "^[A-Za-z0-9_+/-]+$"},
                    "is_active": {"type": "boolean"}
                }},
            "NotionLink": {"type": "object", "required": ["url"], "properties": {"url": {"type": ["string", "null"], "pattern": "^https://www\\.notion\\.so/[0-9a-f]{32}$"}}},
            "AuditExport": {"type": "object", "required": ["filename", "content_type", "decisions", "text"], "properties": {
                "filename": {"type": "string", "pattern": "^reviewdesk-audit[A-Za-z0-9_-]*\\.(csv|json)$"},
                "content_type": string_enum(&["text/csv", "application/json"]),
                "decisions": {"type": "integer", "minimum": 0},
                "text": {"type": "string"}
            }},
            "PromptEdit": {"type": "object", "required": ["prompt"], "additionalProperties": false, "properties": {
                "prompt": {"type": "string", "pattern": "\\S", "maxLength": 4000}
            }},
            "AssetRecord": {"type": "object", "required": ["task_id", "name", "kind", "prompt", "position", "current_version", "review_state", "flagged", "flag_note", "failure"], "properties": {
                "task_id": {"type": "string", "format": "uuid"},
                "name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,100}$"},
                "kind": string_enum(&["character", "environment", "prop"]),
                "prompt": {"type": "string"},
                "position": {"type": "integer", "minimum": 0},
                "current_version": {"type": "integer", "minimum": 0},
                "review_state": string_enum(&["pending", "generated", "approved", "rejected"]),
                "flagged": {"type": "boolean"},
                "flag_note": nullable("string"),
                "failure": nullable("string")
            }},
            "FlagRequest": {"type": "object", "required": ["flagged"], "properties": {"flagged": {"type": "boolean"}, "note": nullable("string")}},
            "BulkRequest": {"type": "object", "required": ["task_ids"], "properties": {"task_ids": {"type": "array", "maxItems": 100, "items": {"type": "string", "format": "uuid"}}, "reason": nullable("string")}},
            "BulkRejectRequest": {"type": "object", "required": ["task_ids", "reason"], "properties": {"task_ids": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string", "format": "uuid"}}, "reason": {"type": "string", "pattern": "\\S"}}},
            "CancelRequest": {"type": "object", "properties": {"reason": nullable("string")}},
            "NewTask": {"type": "object", "required": ["title"], "additionalProperties": false, "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 200},
                "topic": {"type": "string"},
                "story_direction": {"type": "string"},
                "channel_id": nullable("string"),
                "priority": {"enum": ["high", "normal", "low", null]},
                "draft": {"type": "boolean"},
                "plan": {"type": ["string", "null"], "maxLength": 262144, "description": "The asset plan as YAML or JSON text: characters, environments and props, each a list of {name, prompt}, and optionally the 18 scenes, each {narration, motion, sfx}"},
                "notion_page_id": nullable("string")
            }},
            "Task": task_schema,
            "BoardTasks": {"type": "object", "required": ["tasks", "counts", "more", "events_through"], "additionalProperties": false, "properties": {
                "tasks": {"type": "array", "items": schema_ref("Task")},
                "counts": {"type": "array", "items": {"type": "object", "required": ["status", "channel_id", "n"], "additionalProperties": false, "properties": {
                    "status": string_enum(&statuses),
                    "channel_id": {"type": "string", "pattern": "^[a-zA-Z0-9_]+$"},
                    "n": {"type": "integer", "minimum": 1}
                }}},
                "more": {"type": "array", "items": {"type": "object", "required": ["status", "before"], "additionalProperties": false, "properties": {
                    "status": string_enum(&finished),
                    "before": {"type": "string", "pattern": "^-?[0-9]+_[0-9a-f-]{36}$"}
                }}},
                "events_through": {"type": "integer", "minimum": 0, "description": "The last event-log entry this read reflects; compare with the event stream's first message (`position`)"}
            }},
            "TaskDetail": {"type": "object", "required": ["task", "assets", "audit", "history", "outputs", "scenes"], "properties": {
                "task": schema_ref("Task"),
                "assets": {"type": "array", "items": {"type": "object", "required": ["name", "kind", "prompt", "current_version", "review_state", "flagged"]}},
                "audit": {"type": "array", "items": {"type": "object", "required": ["decision", "source", "created_at"]}},
                "history": {"type": "array", "items": {"type": "object", "required": ["status", "entered_at", "left_at", "source"]}},
                "outputs": {"type": "array", "items": {"type": "object", "required": ["step", "item", "file", "file_state", "version"], "properties": {
                    "step": {"type": "string"},
                    "item": {"type": "string"},
                    "file": {"type": "string"},
                    "file_state": {"enum": ["ok", "pending", "missing", "changed"]},
                    "version": {"type": "integer", "minimum": 1},
                    "note": nullable("string")
                }}},
                "scenes": {"type": "array", "maxItems": 18, "items": schema_ref("Scene")}
            }},
            "ChannelSummary": {"type": "object", "required": ["channel_id", "channel_name", "priority", "is_active"], "properties": {
                "channel_id": {"type": "string"},
                "channel_name": {"type": "string"},
                "priority": string_enum(&["high", "normal", "low"]),
                "is_active": {"type": "boolean"}
            }},
            "AppStatus": {"type": "object", "required": ["worker", "mirror", "waiting_for_review"], "properties": {
                "worker": {"type": "object", "required": ["state"], "properties": {"state": string_enum(&["idle", "working", "paused", "stopped"])}},
                "mirror": {"type": "object", "required": ["state"], "properties": {"state": string_enum(&["off", "connected", "error"])}},
                "waiting_for_review": {"type": "integer", "minimum": 0},
                "missing_programs": {"type": ["string", "null"], "description": "Programs the built-in steps need and this machine lacks, with the package to install and the steps that cannot run until then"}
            }}
        }}
    });
    let mut operations = Operations::default();
    reviewdesk_api::visit_all(&mut operations);
    if let Some(paths) = doc["paths"].as_object_mut() {
        paths.extend(operations.0);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_offered_over_http_is_an_operation_with_its_name() {
        let doc = document();
        for (name, doors) in reviewdesk_api::declarations() {
            let Some(http) = doors.http else { continue };
            let method = http.method.as_str().to_ascii_lowercase();
            let path = format!("/api{}", http.path);
            assert_eq!(
                doc["paths"][&path][&method]["operationId"], name,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "missing schema {name}");
        }
    }
}
