//! Tests of the double itself: the contract points a client relies on.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use notion_double::{
    DoubleConfig, FaultKind, FaultRule, NotionDouble, RateLimit, RendezvousRule, RendezvousState,
    sign_webhook,
};
use serde_json::{Value, json};

struct Api {
    d: NotionDouble,
    http: reqwest::Client,
}

impl Api {
    async fn start(config: DoubleConfig) -> Self {
        Self {
            d: NotionDouble::start(config).await.unwrap(),
            http: reqwest::Client::new(),
        }
    }

    async fn new() -> Self {
        Self::start(DoubleConfig::default().without_rate_limit()).await
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.d.url()))
            .bearer_auth(self.d.token())
            .header("Notion-Version", "2025-09-03")
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.req(method.parse().unwrap(), path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (s, v) = self.send(method, path, Some(body)).await;
        assert_eq!(s, 200, "{method} {path}: {v}");
        v
    }

    /// A database under a seeded page with one data source; returns (database, data source).
    async fn database(&self, props: Value) -> (String, String) {
        let parent = self.d.seed_page("Parent");
        let db = self
            .ok(
                "POST",
                "/v1/databases",
                json!({"parent":{"page_id":parent},"title":[{"text":{"content":"Tasks"}}],
                    "initial_data_source":{"properties":props}}),
            )
            .await;
        let ds = db["data_sources"][0]["id"].as_str().unwrap().to_owned();
        (db["id"].as_str().unwrap().to_owned(), ds)
    }

    async fn page(&self, ds: &str, props: Value) -> Value {
        self.ok(
            "POST",
            "/v1/pages",
            json!({"parent":{"data_source_id":ds},"properties":props}),
        )
        .await
    }
}

fn title(t: &str) -> Value {
    json!({"title":[{"text":{"content":t}}]})
}

#[tokio::test]
async fn auth_version_error_shape_and_request_id() {
    let api = Api::new().await;
    let url = format!("{}/v1/users/me", api.d.url());
    let resp = api
        .http
        .get(&url)
        .header("Notion-Version", "2025-09-03")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let header_id = resp.headers()["x-notion-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["code", "message", "object", "request_id", "status"]
    );
    assert_eq!(body["object"], "error");
    assert_eq!(body["status"], 401);
    assert_eq!(body["code"], "unauthorized");
    assert_eq!(body["request_id"], header_id.as_str());

    let resp = api
        .http
        .get(&url)
        .bearer_auth(api.d.token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "missing_version");

    let resp = api
        .req(reqwest::Method::POST, "/v1/pages")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "invalid_json");

    let (s, v) = api.send("GET", "/v1/nope", None).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_request_url")));

    api.d.revoke_token();
    let (s, v) = api.send("GET", "/v1/users/me", None).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")));
    api.d.set_token("ntn_new");
    let resp = api
        .http
        .get(&url)
        .bearer_auth("ntn_new")
        .header("Notion-Version", "2025-09-03")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn users_me_reports_bot_and_upload_limit() {
    let api = Api::new().await;
    let (s, me) = api.send("GET", "/v1/users/me", None).await;
    assert_eq!(s, 200);
    assert_eq!(me["id"], api.d.bot_id().as_str());
    assert_eq!(me["type"], "bot");
    assert_eq!(
        me["bot"]["workspace_limits"]["max_file_upload_size_in_bytes"],
        5 * 1024 * 1024
    );
}

// GET /v1/users/{id} and GET /v1/users follow the user-information capability: emails only
// with the email capability, 403 restricted_resource without any (users/me always answers).
#[tokio::test]
async fn users_follow_the_user_information_capability() {
    let api = Api::new().await;
    let ana = api.d.add_person("Ana", Some("ana@example.com"));
    let (s, u) = api.send("GET", &format!("/v1/users/{ana}"), None).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["object"], "user");
    assert_eq!(u["type"], "person");
    assert_eq!(u["person"]["email"], "ana@example.com");
    let (s, bot) = api
        .send("GET", &format!("/v1/users/{}", api.d.bot_id()), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(bot["type"], "bot");
    assert!(bot.get("person").is_none());

    let http = &api.http;
    http.put(format!("{}/__control/user_info", api.d.url()))
        .json(&json!({"user_info":"without_email"}))
        .send()
        .await
        .unwrap();
    let (_, u) = api.send("GET", &format!("/v1/users/{ana}"), None).await;
    assert_eq!(u["person"], json!({}));
    assert_eq!(u["name"], "Ana");

    api.d.set_user_info(notion_double::UserInfo::None);
    let (s, e) = api.send("GET", &format!("/v1/users/{ana}"), None).await;
    assert_eq!(s, 403);
    assert_eq!(e["code"], "restricted_resource");
    assert_eq!(api.send("GET", "/v1/users", None).await.0, 403);
    assert_eq!(api.send("GET", "/v1/users/me", None).await.0, 200);
    // Users inside objects are partial.
    let parent = api.d.seed_page("Parent");
    let edited = api
        .d
        .edit_page_as(&parent, &ana, &json!({"properties":{}}))
        .unwrap();
    assert_eq!(edited["last_edited_by"], json!({"object":"user","id":ana}));
}

#[tokio::test]
async fn validation_errors_name_the_path() {
    let api = Api::new().await;
    let (_, ds) = api
        .database(
            json!({"Name":{"title":{}},"Foo":{"rich_text":{}},"N":{"number":{}},
            "St":{"status":{}}}),
        )
        .await;
    let target = api.database(json!({"Name":{"title":{}}})).await.1;
    let (_, ds2) = {
        let parent = api.d.seed_page("P2");
        let db = api
            .ok(
                "POST",
                "/v1/databases",
                json!({"parent":{"page_id":parent},
                "initial_data_source":{"properties":{"Name":{"title":{}},
                "Rel":{"relation":{"data_source_id":target,"single_property":{}}}}}}),
            )
            .await;
        (
            db["id"].clone(),
            db["data_sources"][0]["id"].as_str().unwrap().to_owned(),
        )
    };
    let body = |props: Value| json!({"parent":{"data_source_id":ds},"properties":props});

    let long = "x".repeat(2301);
    let (s, v) = api
        .send(
            "POST",
            "/v1/pages",
            Some(body(
                json!({"Foo":{"rich_text":[{"text":{"content":long}}]}}),
            )),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(v["code"], "validation_error");
    assert_eq!(
        v["message"],
        "body failed validation: body.properties.Foo.rich_text[0].text.content.length should be ≤ 2000, instead was 2301."
    );

    let (s, v) = api
        .send(
            "POST",
            "/v1/pages",
            Some(body(json!({"Bar":{"rich_text":[]}}))),
        )
        .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("Bar is not a property that exists."))
    );

    let (s, v) = api
        .send(
            "POST",
            "/v1/pages",
            Some(body(json!({"Foo":{"select":{"name":"A"}}}))),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["message"],
        "body failed validation: body.properties.Foo.rich_text should be defined, instead was `undefined`."
    );

    let (s, v) = api
        .send(
            "POST",
            "/v1/pages",
            Some(body(json!({"N":{"number":"12"}}))),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("body.properties.N.number should be a number")
    );

    let (s, v) = api
        .send(
            "POST",
            "/v1/pages",
            Some(body(json!({"St":{"status":{"name":"Nope"}}}))),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("validation_error")));

    // More than 100 relation ids.
    let rel: Vec<Value> = (0..101)
        .map(|_| json!({"id": uuid::Uuid::new_v4()}))
        .collect();
    let (s, v) = api
        .send(
            "POST",
            "/v1/pages",
            Some(json!({"parent":{"data_source_id":ds2},"properties":{"Rel":{"relation":rel}}})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["message"],
        "body failed validation: body.properties.Rel.relation.length should be ≤ 100, instead was 101."
    );

    // More than 100 children.
    let kids: Vec<Value> = (0..101)
        .map(|_| json!({"paragraph":{"rich_text":[{"text":{"content":"x"}}]}}))
        .collect();
    let page = api.page(&ds, json!({"Name": title("p")})).await;
    let (s, v) = api
        .send(
            "PATCH",
            &format!("/v1/blocks/{}/children", page["id"].as_str().unwrap()),
            Some(json!({"children":kids})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["message"],
        "body failed validation: body.children.length should be ≤ 100, instead was 101."
    );

    // page_size over 100.
    let (s, v) = api
        .send(
            "POST",
            &format!("/v1/data_sources/{ds}/query"),
            Some(json!({"page_size":101})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("body.page_size should be ≤ 100, instead was 101")
    );

    // Unknown and unshared ids.
    let (s, v) = api
        .send("GET", &format!("/v1/pages/{}", uuid::Uuid::new_v4()), None)
        .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("object_not_found")));
    let hidden = api.d.seed_unshared_page("Hidden");
    let (s, _) = api.send("GET", &format!("/v1/pages/{hidden}"), None).await;
    assert_eq!(s, 404);
    api.d.share(&hidden).unwrap();
    let (s, _) = api
        .send(
            "GET",
            &format!("/v1/pages/{}", hidden.replace('-', "")),
            None,
        )
        .await;
    assert_eq!(s, 200, "ids without dashes are accepted");
    api.d.unshare(&hidden).unwrap();
    let (s, _) = api.send("GET", &format!("/v1/pages/{hidden}"), None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn query_paginates_filters_and_sorts() {
    let api = Api::new().await;
    let (_, ds) = api
        .database(
            json!({"Name":{"title":{}},"Key":{"rich_text":{}},"N":{"number":{}},
            "Done":{"checkbox":{}},"Tag":{"select":{"options":[{"name":"a"}]}}}),
        )
        .await;
    for i in 0..7 {
        api.page(
            &ds,
            json!({"Name": title(&format!("p{i}")),
            "Key":{"rich_text":[{"text":{"content":format!("k{}", i % 3)}}]},
            "N":{"number": i}, "Done":{"checkbox": i % 2 == 0},
            "Tag":{"select": if i < 3 { json!({"name":"a"}) } else { json!({"name":"b"}) }}}),
        )
        .await;
    }
    let path = format!("/v1/data_sources/{ds}/query");
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut calls = 0;
    loop {
        let mut body = json!({"page_size":3,"sorts":[{"property":"N","direction":"descending"}]});
        if let Some(c) = &cursor {
            body["start_cursor"] = json!(c);
        }
        let v = api.ok("POST", &path, body).await;
        calls += 1;
        assert_eq!(v["object"], "list");
        assert_eq!(v["type"], "page_or_data_source");
        for p in v["results"].as_array().unwrap() {
            names.push(
                p["properties"]["Name"]["title"][0]["plain_text"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        if !v["has_more"].as_bool().unwrap() {
            assert!(v["next_cursor"].is_null());
            break;
        }
        cursor = Some(v["next_cursor"].as_str().unwrap().to_owned());
    }
    assert_eq!(calls, 3);
    assert_eq!(names, ["p6", "p5", "p4", "p3", "p2", "p1", "p0"]);

    let count = |f: Value| {
        let path = path.clone();
        let api = &api;
        async move {
            api.ok("POST", &path, json!({"filter": f})).await["results"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        count(json!({"property":"Key","rich_text":{"equals":"k1"}})).await,
        2
    );
    assert_eq!(
        count(json!({"property":"Key","rich_text":{"contains":"k"}})).await,
        7
    );
    assert_eq!(
        count(json!({"property":"Tag","select":{"equals":"a"}})).await,
        3
    );
    assert_eq!(
        count(json!({"property":"Tag","select":{"does_not_equal":"a"}})).await,
        4
    );
    assert_eq!(
        count(json!({"property":"Done","checkbox":{"equals":true}})).await,
        4
    );
    assert_eq!(
        count(json!({"property":"N","number":{"greater_than":4}})).await,
        2
    );
    assert_eq!(
        count(json!({"or":[{"property":"N","number":{"equals":0}},
            {"and":[{"property":"Tag","select":{"equals":"b"}},{"property":"Done","checkbox":{"equals":false}}]}]})).await,
        1 + 2
    );
    let (s, v) = api
        .send(
            "POST",
            &path,
            Some(json!({"filter":{"property":"Nope","select":{"equals":"a"}}})),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("validation_error")));
}

#[tokio::test]
async fn last_edited_time_rounds_down_and_filters_see_the_rounded_value() {
    let start = Utc.with_ymd_and_hms(2025, 5, 1, 10, 0, 42).unwrap();
    let api = Api::start(
        DoubleConfig::default()
            .without_rate_limit()
            .frozen_clock(start),
    )
    .await;
    let (_, ds) = api
        .database(json!({"Name":{"title":{}},"Status":{"select":{}}}))
        .await;
    let p = api.page(&ds, json!({"Name": title("a")})).await;
    assert_eq!(p["last_edited_time"], "2025-05-01T10:00:00.000Z");
    assert_eq!(p["created_time"], "2025-05-01T10:00:42.000Z");

    api.d.advance_clock(Duration::from_secs(75)); // 10:01:57
    let person = api.d.add_person("Ana", Some("ana@example.com"));
    let id = p["id"].as_str().unwrap();
    let edited = api
        .d
        .edit_page_as(
            id,
            &person,
            &json!({"properties":{"Status":{"select":{"name":"Done"}}}}),
        )
        .unwrap();
    assert_eq!(edited["last_edited_time"], "2025-05-01T10:01:00.000Z");
    assert_eq!(edited["last_edited_by"]["id"], person.as_str());

    let q = |op: &str, t: &str| json!({"filter":{"timestamp":"last_edited_time","last_edited_time":{op: t}}});
    let path = format!("/v1/data_sources/{ds}/query");
    // The edit at 10:01:57 is stored as 10:01:00: "after 10:01:30" misses it.
    assert_eq!(
        api.ok("POST", &path, q("after", "2025-05-01T10:01:30Z"))
            .await["results"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        api.ok("POST", &path, q("on_or_after", "2025-05-01T10:01:00Z"))
            .await["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.ok("POST", &path, q("before", "2025-05-01T10:01:00Z"))
            .await["results"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        api.ok("POST", &path, q("on_or_before", "2025-05-01T10:01:00Z"))
            .await["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let created = json!({"filter":{"timestamp":"created_time","created_time":{"after":"2025-05-01T10:00:41Z"}}});
    assert_eq!(
        api.ok("POST", &path, created).await["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn relations_truncate_at_25_and_two_way_relations_sync() {
    let api = Api::new().await;
    let (_, tasks) = api.database(json!({"Name":{"title":{}}})).await;
    let parent = api.d.seed_page("Assets parent");
    let assets_db = api
        .ok("POST", "/v1/databases", json!({"parent":{"page_id":parent},"title":[{"text":{"content":"Assets"}}],
            "initial_data_source":{"properties":{"Name":{"title":{}},
            "Task":{"relation":{"data_source_id":tasks,"type":"dual_property","dual_property":{}}}}}}))
        .await;
    let assets = assets_db["data_sources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let schema = api
        .ok("GET", &format!("/v1/data_sources/{tasks}"), json!({}))
        .await;
    let reverse = schema["properties"]
        .as_object()
        .unwrap()
        .values()
        .find(|p| p["type"] == "relation")
        .expect("synced property added to Tasks")
        .clone();
    assert_eq!(reverse["relation"]["type"], "dual_property");
    assert_eq!(reverse["relation"]["data_source_id"], assets.as_str());
    let reverse_name = reverse["name"].as_str().unwrap().to_owned();
    // Rename the synced property the way `init` names it.
    api.ok(
        "PATCH",
        &format!("/v1/data_sources/{tasks}"),
        json!({"properties":{reverse_name.clone():{"name":"Assets"}}}),
    )
    .await;

    let task = api.page(&tasks, json!({"Name": title("task")})).await;
    let task_id = task["id"].as_str().unwrap().to_owned();
    let mut asset_ids = Vec::new();
    for i in 0..30 {
        let a = api
            .page(
                &assets,
                json!({"Name": title(&format!("a{i}")), "Task":{"relation":[{"id":task_id}]}}),
            )
            .await;
        asset_ids.push(a["id"].as_str().unwrap().to_owned());
    }
    let t = api
        .ok("GET", &format!("/v1/pages/{task_id}"), json!({}))
        .await;
    let rel = &t["properties"]["Assets"];
    assert_eq!(rel["relation"].as_array().unwrap().len(), 25);
    assert_eq!(rel["has_more"], true);

    // The property item endpoint pages through all 30.
    let prop_id = rel["id"].as_str().unwrap();
    let first = api
        .ok(
            "GET",
            &format!("/v1/pages/{task_id}/properties/{prop_id}?page_size=20"),
            json!({}),
        )
        .await;
    assert_eq!(first["results"].as_array().unwrap().len(), 20);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = api
        .ok(
            "GET",
            &format!("/v1/pages/{task_id}/properties/{prop_id}?page_size=20&start_cursor={cursor}"),
            json!({}),
        )
        .await;
    assert_eq!(rest["results"].as_array().unwrap().len(), 10);
    assert_eq!(rest["has_more"], false);

    // Writing the other side updates this side.
    api.ok(
        "PATCH",
        &format!("/v1/pages/{task_id}"),
        json!({"properties":{"Assets":{"relation":[{"id":asset_ids[0]}]}}}),
    )
    .await;
    let a1 = api
        .ok("GET", &format!("/v1/pages/{}", asset_ids[1]), json!({}))
        .await;
    assert_eq!(
        a1["properties"]["Task"]["relation"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let a0 = api
        .ok("GET", &format!("/v1/pages/{}", asset_ids[0]), json!({}))
        .await;
    assert_eq!(
        a0["properties"]["Task"]["relation"][0]["id"],
        task_id.as_str()
    );
}

#[tokio::test]
async fn file_uploads_expire_after_an_hour_unless_attached() {
    let api = Api::new().await;
    let create = || {
        api.ok(
            "POST",
            "/v1/file_uploads",
            json!({"filename":"a.png","content_type":"image/png"}),
        )
    };
    let up = create().await;
    assert_eq!(up["status"], "pending");
    let id = up["id"].as_str().unwrap().to_owned();
    let form = || {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(vec![1u8; 100]).file_name("a.png"),
        )
    };

    api.d.advance_clock(Duration::from_secs(59 * 60));
    assert_eq!(
        api.ok("GET", &format!("/v1/file_uploads/{id}"), json!({}))
            .await["status"],
        "pending"
    );
    api.d.advance_clock(Duration::from_secs(2 * 60));
    assert_eq!(
        api.ok("GET", &format!("/v1/file_uploads/{id}"), json!({}))
            .await["status"],
        "expired"
    );
    let resp = api
        .req(
            reqwest::Method::POST,
            &format!("/v1/file_uploads/{id}/send"),
        )
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Uploaded and attached: no expiry any more.
    let up = create().await;
    let id = up["id"].as_str().unwrap().to_owned();
    let resp = api
        .req(
            reqwest::Method::POST,
            &format!("/v1/file_uploads/{id}/send"),
        )
        .multipart(form())
        .send()
        .await
        .unwrap();
    let sent: Value = resp.json().await.unwrap();
    assert_eq!(sent["status"], "uploaded");
    assert_eq!(sent["content_length"], 100);
    let (_, ds) = api
        .database(json!({"Name":{"title":{}},"File":{"files":{}}}))
        .await;
    let page = api
        .page(&ds, json!({"File":{"files":[{"type":"file_upload","file_upload":{"id":id},"name":"a.png"}]}}))
        .await;
    let file = &page["properties"]["File"]["files"][0];
    assert_eq!(file["type"], "file");
    let url = file["file"]["url"].as_str().unwrap();
    assert_eq!(
        reqwest::get(url)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len(),
        100
    );
    api.d.advance_clock(Duration::from_secs(2 * 3600));
    let got = api
        .ok("GET", &format!("/v1/file_uploads/{id}"), json!({}))
        .await;
    assert_eq!(got["status"], "uploaded");
    assert!(got["expiry_time"].is_null());

    // Above the free workspace's 5 MiB: refused.
    let up = create().await;
    let big = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![0u8; 5 * 1024 * 1024 + 1]).file_name("a.png"),
    );
    let resp = api
        .req(
            reqwest::Method::POST,
            &format!("/v1/file_uploads/{}/send", up["id"].as_str().unwrap()),
        )
        .multipart(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("workspace file upload limit")
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let api = Api::start(DoubleConfig::default()).await;
    api.d.set_rate_limit(Some(RateLimit {
        per_second: 1.0,
        burst: 2,
    }));
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..3 {
        let resp = api
            .req(reqwest::Method::GET, "/v1/users/me")
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(resp.json::<Value>().await.unwrap()["code"], "rate_limited");
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(retry_after.as_deref(), Some("1"));
    api.d.set_rate_limit(None);
    assert_eq!(api.send("GET", "/v1/users/me", None).await.0, 200);
}

#[tokio::test]
async fn faults_fail_matching_requests_and_drop_connections() {
    let api = Api::new().await;
    api.d.inject_fault(
        FaultRule::next(1, FaultKind::Status(503))
            .method("GET")
            .path_prefix("/v1/users"),
    );
    api.d
        .inject_fault(FaultRule::next(1, FaultKind::DropConnection).method("POST"));
    assert_eq!(api.send("GET", "/v1/users/me", None).await.0, 503);
    assert_eq!(api.send("GET", "/v1/users/me", None).await.0, 200);
    let err = api
        .req(reqwest::Method::POST, "/v1/file_uploads")
        .json(&json!({}))
        .send()
        .await;
    assert!(err.is_err(), "connection dropped without a response");
    let log = api.d.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].status, Some(503));
    assert!(log[0].injected);
    assert_eq!(log[2].status, None);
    assert_eq!(log[2].method, "POST");
}

#[tokio::test]
async fn control_routes_over_http() {
    let api = Api::new().await;
    let http = &api.http;
    let base = api.d.url();
    let page: Value = http
        .post(format!("{base}/__control/pages"))
        .json(&json!({"title":"Root"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = page["id"].as_str().unwrap();
    assert_eq!(
        api.send("GET", &format!("/v1/pages/{id}"), None).await.0,
        200
    );
    let user: Value = http
        .post(format!("{base}/__control/users"))
        .json(&json!({"name":"Ana"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let edited: Value = http
        .post(format!("{base}/__control/pages/{id}/edit"))
        .json(&json!({"user_id": user["id"], "properties":{"title":{"title":[{"text":{"content":"Renamed"}}]}}}))
        .send().await.unwrap().json().await.unwrap();
    assert_eq!(
        edited["properties"]["title"]["title"][0]["plain_text"],
        "Renamed"
    );
    assert_eq!(edited["last_edited_by"]["id"], user["id"]);
    http.post(format!("{base}/__control/faults"))
        .json(&json!({"kind":{"status":529},"count":1}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.send("GET", "/v1/users/me", None).await.0, 529);
    let log: Vec<Value> = http
        .get(format!("{base}/__control/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.len(), 2, "control routes are not logged");
    http.post(format!("{base}/__control/token/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.send("GET", "/v1/users/me", None).await.0, 401);
    let info: Value = http
        .get(format!("{base}/__control/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["bot_id"], api.d.bot_id().as_str());
}

#[test]
fn webhook_signature_is_hmac_sha256_hex() {
    // RFC 4231 test case 2.
    assert_eq!(
        sign_webhook(b"what do ya want for nothing?", "Jefe"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn binary_prints_its_url_and_serves() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_notion-double"))
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let info: Value = rt.block_on(async {
        reqwest::get(format!("{url}/__control/info"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(info["url"], url.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendezvous_holds_requests_until_they_overlap() {
    let api = Api::new().await;
    // Two overlapping requests meet; a third matching one is not held.
    api.d
        .rendezvous(RendezvousRule::of(2).method("GET").path_prefix("/v1/users"));
    let (a, b) = tokio::join!(
        api.send("GET", "/v1/users/me", None),
        api.send("GET", "/v1/users/me", None)
    );
    assert_eq!((a.0, b.0), (200, 200));
    assert_eq!(
        api.d.rendezvous_state(),
        Some(RendezvousState {
            arrived: 2,
            met: true,
            broken: false
        })
    );
    assert_eq!(api.send("GET", "/v1/users/me", None).await.0, 200);

    // One request alone waits out the timeout and breaks it; later ones pass without waiting.
    api.d
        .rendezvous(RendezvousRule::of(2).timeout(Duration::from_millis(100)));
    assert_eq!(api.send("GET", "/v1/users/me", None).await.0, 200);
    assert_eq!(api.send("GET", "/v1/users/me", None).await.0, 200);
    assert_eq!(
        api.d.rendezvous_state(),
        Some(RendezvousState {
            arrived: 1,
            met: false,
            broken: true
        })
    );

    // The same over HTTP.
    let http = &api.http;
    let base = api.d.url();
    http.post(format!("{base}/__control/rendezvous"))
        .json(&json!({"parties":2,"method":"POST","path_prefix":"/v1/search"}))
        .send()
        .await
        .unwrap();
    let state: Value = http
        .get(format!("{base}/__control/rendezvous"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state, json!({"arrived":0,"met":false,"broken":false}));
    http.delete(format!("{base}/__control/rendezvous"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.d.rendezvous_state(), None);
}
