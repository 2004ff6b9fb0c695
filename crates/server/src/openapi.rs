//! The OpenAPI document of the API. Written as data here rather than derived: the request and
//! response types already have one generated contract (the TypeScript bindings), and this keeps
//! the core free of a second set of schema derives. It is complete enough to drive a fuzzer
//! (`make test` runs Schemathesis against it): every route, body, success and error answer.

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

fn with_params(mut o: Value, params: Value) -> Value {
    o["parameters"] = params;
    o
}

/// Names an operation (links and clients refer to it).
fn named(mut o: Value, operation_id: &str) -> Value {
    o["operationId"] = json!(operation_id);
    o
}

/// Links from a created task to what can be done with it, so a fuzzer's stateful phase walks
/// real tasks instead of random ids.
fn task_links() -> Value {
    let by_id = json!({"id": "$response.body#/id"});
    let mut links = serde_json::Map::new();
    for op in [
        "task_detail",
        "approve",
        "reject",
        "retry",
        "queue",
        "cancel",
    ] {
        links.insert(
            op.to_string(),
            json!({"operationId": op, "parameters": by_id}),
        );
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
    let id_param = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}});
    let id = json!([id_param]);
    let name_param = json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,100}$"}});
    let task = (200, Some(schema_ref("Task")));
    let tasks = (
        200,
        Some(json!({"type": "array", "items": schema_ref("Task")})),
    );
    let status = (200, Some(schema_ref("AppStatus")));
    let decision = Fails {
        body: true,
        task: true,
        decides: true,
        validates: false,
    };
    let write = Fails { body: true, ..READ };
    let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    let board_names: Vec<&str> = Status::ALL.iter().map(|s| s.board_name()).collect();
    let date_time = json!({"type": "string", "format": "date-time"});
    let nullable_date_time = json!({"type": ["string", "null"], "format": "date-time"});
    let task_schema = json!({
        "type": "object",
        "required": ["id", "channel_id", "title", "topic", "story_direction", "priority", "status",
                     "status_changed_at", "created_at", "updated_at", "notion_page_id",
                     "review_started_at", "review_completed_at", "error_log", "attempts",
                     "next_retry_at", "error_category", "correlation_id", "plan_file"],
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
            "plan_file": nullable("string")
        }
    });
    let list = with_params(
        op(
            "List tasks (repeat ?status= with an internal or board name, optional ?channel= and ?limit=)",
            None,
            tasks.clone(),
            Fails {
                validates: true,
                ..READ
            },
        ),
        json!([
            {"name": "status", "in": "query", "required": false, "schema": {"type": "string", "enum": statuses.iter().chain(&board_names).collect::<Vec<_>>()}},
            {"name": "channel", "in": "query", "required": false, "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 500}}
        ]),
    );
    let mut create = op(
        "Create a task (201); a custom asset plan is sent as text",
        Some("NewTask"),
        (201, Some(schema_ref("Task"))),
        Fails {
            body: true,
            validates: true,
            ..READ
        },
    );
    create["responses"]["201"]["links"] = task_links();
    let list = named(list, "list_tasks");
    let create = named(create, "create_task");
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Review Desk API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Every write needs Content-Type: application/json and a same-origin request."},
        "paths": {
            "/api/tasks": {"get": list, "post": create},
            "/api/tasks/{id}": {"get": named(with_params(op("A task with its assets, versions, outputs and audit trail", None, (200, Some(schema_ref("TaskDetail"))), Fails { task: true, ..READ }), id.clone()), "task_detail")},
            "/api/tasks/{id}/approve": {"post": named(with_params(op("Approve the task at its gate", Some("ApproveRequest"), task.clone(), decision), id.clone()), "approve")},
            "/api/tasks/{id}/reject": {"post": named(with_params(op("Reject the task at its gate with feedback and flags", Some("RejectRequest"), task.clone(), decision), id.clone()), "reject")},
            "/api/tasks/{id}/retry": {"post": named(with_params(op("Send an errored, published or cancelled task back to the queue", Some("Empty"), task.clone(), decision), id.clone()), "retry")},
            "/api/tasks/{id}/queue": {"post": named(with_params(op("Queue a draft", Some("Empty"), task.clone(), decision), id.clone()), "queue")},
            "/api/tasks/{id}/cancel": {"post": named(with_params(op("Cancel a task", Some("CancelRequest"), task.clone(), decision), id.clone()), "cancel")},
            "/api/tasks/{id}/assets/{name}/flag": {"put": named(with_params(op("Flag or unflag an asset (Assets Ready or Asset Error)", Some("FlagRequest"), (204, None), Fails { validates: true, ..decision }), json!([id_param, name_param])), "flag_asset")},
            "/api/bulk/approve": {"post": named(op("Approve up to 100 tasks, all or nothing", Some("BulkRequest"), tasks.clone(), decision), "bulk_approve")},
            "/api/bulk/reject": {"post": named(op("Reject up to 100 tasks, all or nothing (`reason` is the feedback)", Some("BulkRejectRequest"), tasks, decision), "bulk_reject")},
            "/api/status": {"get": named(op("Worker and mirror state", None, status.clone(), READ), "status")},
            "/api/worker/pause": {"post": named(op("Pause the worker", Some("Empty"), status.clone(), Fails { decides: true, ..write }), "pause_worker")},
            "/api/worker/resume": {"post": named(op("Resume the worker", Some("Empty"), status, Fails { decides: true, ..write }), "resume_worker")},
            "/api/openapi.json": {"get": named(op("This document", None, (200, Some(json!({"type": "object", "required": ["openapi", "paths"]}))), READ), "openapi")},
            "/api/events": {"get": {"summary": "Server-sent domain events (event: domain); the stream ends when the server stops",
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
                "plan": {"type": ["string", "null"], "maxLength": 262144, "description": "The asset plan as YAML or JSON text: characters, environments and props, each a list of {name, prompt}"},
                "notion_page_id": nullable("string")
            }},
            "Task": task_schema,
            "TaskDetail": {"type": "object", "required": ["task", "assets", "audit", "outputs"], "properties": {
                "task": schema_ref("Task"),
                "assets": {"type": "array", "items": {"type": "object", "required": ["name", "kind", "prompt", "current_version", "review_state", "flagged"]}},
                "audit": {"type": "array", "items": {"type": "object", "required": ["decision", "source", "created_at"]}},
                "outputs": {"type": "array", "items": {"type": "object"}}
            }},
            "AppStatus": {"type": "object", "required": ["worker", "mirror", "waiting_for_review"], "properties": {
                "worker": {"type": "object", "required": ["state"], "properties": {"state": string_enum(&["idle", "working", "paused", "stopped"])}},
                "mirror": {"type": "object", "required": ["state"], "properties": {"state": string_enum(&["off", "connected", "error"])}},
                "waiting_for_review": {"type": "integer", "minimum": 0}
            }}
        }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
