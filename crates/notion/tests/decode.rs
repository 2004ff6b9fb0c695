//! A success answer that lacks a field Notion always sends is a `Decode` error naming the field,
//! never a made-up value (an empty page id, a 1970 `last_edited_time` feeding the poll cursor).
//!
//! The Notion double always answers whole objects, so these tests serve canned answers from a
//! one-connection-at-a-time HTTP server of their own.

use std::time::Duration;

use reviewdesk_notion::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `body` with status 200 to every request; returns the base URL.
async fn canned(body: Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = body.to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                // Read the request head and body (requests here are small).
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                loop {
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(answer.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    url
}

fn client(url: &str) -> NotionClient {
    let cfg = ClientConfig::default()
        .base_url(url)
        .rate(1000.0, 100)
        .backoff_base(Duration::from_millis(5))
        .timeout(Duration::from_secs(10));
    NotionClient::with_config(NotionToken::new("secret_decode_test"), cfg).unwrap()
}

fn page() -> Value {
    json!({
        "object": "page",
        "id": "59833787-2cf9-4fdf-8782-e53db20768a5",
        "created_time": "2026-01-01T10:00:00.000Z",
        "last_edited_time": "2026-01-01T10:05:00.000Z",
        "created_by": {"object": "user", "id": "c2f20311-9e54-4d11-8c79-7398424ae41e"},
        "last_edited_by": {"object": "user", "id": "c2f20311-9e54-4d11-8c79-7398424ae41e"},
        "parent": {"type": "data_source_id", "data_source_id": "1f2e3d4c-5b6a-4789-8abc-def012345678"},
        "in_trash": false,
        "url": "https://www.notion.so/x",
        "properties": {
            "Title": {"id": "title", "type": "title", "title": [{"type": "text", "plain_text": "A", "text": {"content": "A"}}]},
            "Status": {"id": "st", "type": "select", "select": {"id": "o1", "name": "Queued", "color": "default"}}
        }
    })
}

fn decode_field(e: NotionError) -> String {
    match e {
        NotionError::Decode { field, .. } => field,
        other => panic!("expected a Decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_whole_page_decodes() {
    let c = client(&canned(page()).await);
    let p = c.retrieve_page(&PageId::new("x")).await.unwrap();
    assert_eq!(p.id.as_str(), "59833787-2cf9-4fdf-8782-e53db20768a5");
    assert_eq!(p.title(), "A");
    assert_eq!(
        p.get("Status")
            .and_then(PropertyValue::plain_text)
            .as_deref(),
        Some("Queued")
    );
}

#[tokio::test]
async fn a_page_without_id_or_last_edited_time_is_a_decode_error_naming_the_field() {
    for (field, expected) in [
        ("id", "page.id"),
        ("last_edited_time", "page.last_edited_time"),
        ("created_time", "page.created_time"),
        ("last_edited_by", "page.last_edited_by"),
        ("parent", "page.parent"),
        ("properties", "page.properties"),
    ] {
        let mut body = page();
        body.as_object_mut().unwrap().remove(field);
        let c = client(&canned(body).await);
        let err = c.retrieve_page(&PageId::new("x")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other);
        assert!(!err.is_transient());
        let text = err.to_string();
        assert_eq!(decode_field(err), expected, "{text}");
        assert!(
            text.contains(expected) && text.contains("missing"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_time_that_is_not_a_time_is_a_decode_error_not_1970() {
    let mut body = page();
    body["last_edited_time"] = json!("yesterday");
    let c = client(&canned(body).await);
    let err = c.retrieve_page(&PageId::new("x")).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(decode_field(err), "page.last_edited_time");
    assert!(text.contains("yesterday"), "{text}");
}

#[tokio::test]
async fn a_query_result_without_last_edited_time_fails_the_query_and_names_the_result() {
    let mut second = page();
    second.as_object_mut().unwrap().remove("last_edited_time");
    let list = json!({"object": "list", "results": [page(), second], "next_cursor": null,
        "has_more": false, "type": "page_or_data_source", "page_or_data_source": {}});
    let c = client(&canned(list).await);
    let err = c
        .query_data_source(&DataSourceId::new("ds"), &Query::default())
        .await
        .unwrap_err();
    assert_eq!(decode_field(err), "pages[1].last_edited_time");
}

#[tokio::test]
async fn nested_fields_are_named_by_their_path() {
    let mut body = page();
    body["properties"]["Status"]["select"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let c = client(&canned(body).await);
    let err = c.retrieve_page(&PageId::new("x")).await.unwrap_err();
    assert_eq!(decode_field(err), "page.properties.Status.select.name");
}

#[tokio::test]
async fn other_objects_without_their_id_are_decode_errors() {
    let c = client(&canned(json!({"object": "user", "type": "bot", "bot": {}})).await);
    assert_eq!(decode_field(c.me().await.unwrap_err()), "user.id");

    let c = client(&canned(json!({"object": "file_upload", "id": "u1"})).await);
    assert_eq!(
        decode_field(
            c.retrieve_file_upload(&FileUploadId::new("u1"))
                .await
                .unwrap_err()
        ),
        "file_upload.status"
    );

    let c = client(
        &canned(json!({"object": "data_source", "title": [], "properties": {
            "Status": {"id": "s", "name": "Status"}}}))
        .await,
    );
    assert_eq!(
        decode_field(
            c.retrieve_data_source(&DataSourceId::new("d"))
                .await
                .unwrap_err()
        ),
        "data_source.properties.Status.type"
    );

    let c = client(
        &canned(json!({"object": "database", "id": "d", "title": [],
            "parent": {"type": "workspace", "workspace": true}, "data_sources": [{"name": "T"}]}))
        .await,
    );
    assert_eq!(
        decode_field(
            c.retrieve_database(&DatabaseId::new("d"))
                .await
                .unwrap_err()
        ),
        "database.data_sources[0].id"
    );
}
