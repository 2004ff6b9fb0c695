//! The OpenAPI document of the API. Written as data here rather than derived: the request and
//! response types already have one generated contract (the TypeScript bindings), and this keeps
//! the core free of a second set of schema derives.

use serde_json::{Value, json};

fn op(summary: &str, body: Option<&str>, resp: &str) -> Value {
    let mut o = json!({
        "summary": summary,
        "responses": {
            "200": {"description": resp},
            "404": {"description": "unknown id", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}},
            "409": {"description": "refused transition", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}},
            "422": {"description": "invalid body; the message names the field", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}}
        }
    });
    if let Some(b) = body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{b}")}}}});
    }
    o
}

/// The document served at `/api/openapi.json`.
pub fn document() -> Value {
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}]);
    let mut approve = op(
        "Approve the task at its gate",
        Some("ApproveRequest"),
        "the task",
    );
    approve["parameters"] = id.clone();
    let mut reject = op(
        "Reject the task at its gate with feedback and flags",
        Some("RejectRequest"),
        "the task",
    );
    reject["parameters"] = id.clone();
    let mut retry = op(
        "Send an errored task back to the queue",
        Some("Empty"),
        "the task",
    );
    retry["parameters"] = id.clone();
    let mut cancel = op("Cancel a task", Some("CancelRequest"), "the task");
    cancel["parameters"] = id.clone();
    let mut detail = op(
        "A task with its assets, versions and audit trail",
        None,
        "TaskDetail",
    );
    detail["parameters"] = id.clone();
    let mut flag = op("Flag or unflag an asset", Some("FlagRequest"), "no content");
    flag["parameters"] = json!([id[0], {"name": "name", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,100}$"}}]);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Review Desk API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Every write needs Content-Type: application/json and a same-origin request."},
        "paths": {
            "/api/tasks": {
                "get": op("List tasks (repeat ?status=, optional ?channel=)", None, "Task[]"),
                "post": op("Create a task", Some("NewTask"), "the task (201)")
            },
            "/api/tasks/{id}": {"get": detail},
            "/api/tasks/{id}/approve": {"post": approve},
            "/api/tasks/{id}/reject": {"post": reject},
            "/api/tasks/{id}/retry": {"post": retry},
            "/api/tasks/{id}/cancel": {"post": cancel},
            "/api/tasks/{id}/assets/{name}/flag": {"put": flag},
            "/api/bulk/approve": {"post": op("Approve up to 100 tasks, all or nothing", Some("BulkRequest"), "Task[]")},
            "/api/bulk/reject": {"post": op("Reject up to 100 tasks, all or nothing", Some("BulkRequest"), "Task[]")},
            "/api/status": {"get": op("Worker and mirror state", None, "AppStatus")},
            "/api/worker/pause": {"post": op("Pause the worker", Some("Empty"), "AppStatus")},
            "/api/worker/resume": {"post": op("Resume the worker", Some("Empty"), "AppStatus")},
            "/api/events": {"get": {"summary": "Server-sent domain events (event: domain)", "responses": {"200": {"description": "text/event-stream"}}}},
            "/files/{path}": {"get": {"summary": "A workspace file (thumbnails, assets, clips, audio); one `Range: bytes=` range is honoured; paths outside the workspace are 404",
                                      "responses": {"200": {"description": "the file"}, "206": {"description": "the requested range (Content-Range)"}, "304": {"description": "not modified"}, "404": {"description": "no such file"}, "416": {"description": "the range lies past the end of the file"}}}}
        },
        "components": {"schemas": {
            "ApiError": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
            "Empty": {"type": "object"},
            "ApproveRequest": {"type": "object", "properties": {"note": {"type": ["string", "null"]}}},
            "RejectRequest": {"type": "object", "required": ["feedback"], "properties": {"feedback": {"type": "string", "minLength": 1}, "flags": {"type": ["array", "null"], "items": {"type": "string"}}}},
            "FlagRequest": {"type": "object", "required": ["flagged"], "properties": {"flagged": {"type": "boolean"}, "note": {"type": ["string", "null"]}}},
            "BulkRequest": {"type": "object", "required": ["task_ids"], "properties": {"task_ids": {"type": "array", "maxItems": 100, "items": {"type": "string", "format": "uuid"}}, "reason": {"type": ["string", "null"]}}},
            "CancelRequest": {"type": "object", "properties": {"reason": {"type": ["string", "null"]}}},
            "NewTask": {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}, "topic": {"type": "string"}, "story_direction": {"type": "string"}, "channel_id": {"type": ["string", "null"]}, "priority": {"enum": ["high", "normal", "low", null]}, "draft": {"type": "boolean"}}}
        }}
    })
}
