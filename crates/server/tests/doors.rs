//! The HTTP door as a client meets it, driven by the command declaration itself: every command
//! declared for HTTP answers at its declared method and path (its own answer, not "no route" or
//! "method not allowed"), and no operation exists for a command that is not declared for HTTP.

use reviewdesk_api::{Body, Method};
use reviewdesk_testkit::{OpenCore, TestCore, spawn_server};
use serde_json::{Value, json};

#[tokio::test]
async fn every_command_declared_for_http_is_served_at_its_route_and_no_other_is() {
    let OpenCore { core, dir: _dir } = TestCore::new().open().await;
    let base = spawn_server(core).await;
    let http = reqwest::Client::new();
    let task = "0193a3c2-7d4e-7a10-9b3c-5f1e2d3c4b5a";
    let declared = reviewdesk_api::declarations();
    for (name, doors) in &declared {
        let Some(route) = doors.http else { continue };
        let path = route
            .path
            .replace("{id}", task)
            .replace("{name}", "hero_1")
            .replace("{scene}", "3");
        let url = format!("{base}/api{path}");
        // An argument no command takes: the command's own parsing refuses it, so nothing runs.
        let request = match route.method {
            Method::Get => http.get(format!("{url}?probe_argument=1")),
            Method::Post => http.post(&url),
            Method::Put => http.put(&url),
        };
        let request = match route.body {
            Body::None => request,
            Body::Empty | Body::Json(_) => request.json(&json!({"probe_argument": 1})),
        };
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert_ne!(
            status,
            405,
            "{name}: {} {path} is not routed",
            route.method.as_str()
        );
        assert!(
            body["code"].is_string() && body["code"] != "no_route",
            "{name}: {} {path} answered {status} {body}",
            route.method.as_str()
        );
        if route.body != Body::Empty {
            assert_eq!(
                (status, body["code"].as_str()),
                (422, Some("invalid")),
                "{name}: the unknown argument reaches the command's own parsing: {body}"
            );
        }
    }

    let doc: Value = http
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    for (name, doors) in &declared {
        assert_eq!(
            operations.contains(name),
            doors.http.is_some(),
            "{name}: an OpenAPI operation exactly when it is declared for HTTP"
        );
    }
    let unknown = http
        .post(format!("{base}/api/tasks/{task}/publish"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["code"], "no_route");
}
