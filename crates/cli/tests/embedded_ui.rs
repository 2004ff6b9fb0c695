//! The web UI is embedded in the `reviewdesk` binary: a copy of it far from the source tree, run
//! without `--ui-dir`, serves the built UI with its caching headers.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

/// `ui/dist` of this checkout: what the binary embedded when it was built.
fn ui_dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist")
}

/// A `reviewdesk serve` started from a copy of the binary in a temporary folder.
struct Served {
    _dir: tempfile::TempDir,
    /// The copy of the binary.
    bin: PathBuf,
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_copied_binary() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let checkout = ui_dist().join("../..").canonicalize().unwrap();
    assert!(
        !dir.path().canonicalize().unwrap().starts_with(&checkout),
        "the temporary folder {} must lie outside the checkout",
        dir.path().display()
    );
    let bin = dir.path().join("bin/reviewdesk");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    // fs::copy keeps the permission bits, so the copy is executable.
    std::fs::copy(assert_cmd::cargo::cargo_bin("reviewdesk"), &bin).unwrap();
    std::fs::create_dir_all(dir.path().join("cfg/channels")).unwrap();
    let mut child = std::process::Command::new(&bin)
        .current_dir(dir.path())
        .env("REVIEWDESK_DATA_DIR", dir.path().join("data"))
        .env("REVIEWDESK_CONFIG_DIR", dir.path().join("cfg"))
        .env(
            "REVIEWDESK_DATABASE_URL",
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("db.sqlite").display()
            ),
        )
        .env("REVIEWDESK_WORKSPACE", dir.path().join("ws"))
        .env_remove("REVIEWDESK_UI_DIR")
        .env_remove("REVIEWDESK_SERVER_TOKEN")
        .env_remove("NOTION_TOKEN")
        .env_remove("RUST_LOG")
        .args(["serve", "--addr", "127.0.0.1:0", "--no-worker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    Served {
        _dir: dir,
        bin,
        child,
        addr,
    }
}

/// A response: status, headers (names lower-cased) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 GET on a connection of its own (`Connection: close`, so the body ends with it).
fn get(addr: &str, path: &str, extra_headers: &[(&str, &str)]) -> Answer {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let extra: String = extra_headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect::<Vec<_>>();
    assert!(
        !headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")),
        "a file is sent with its length: {headers:?}"
    );
    Answer {
        status: status.parse().unwrap(),
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

#[test]
fn a_copied_binary_serves_the_embedded_ui_with_its_caching_headers() {
    let index = ui_dist().join("index.html");
    let index_html = std::fs::read_to_string(&index).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): build the UI first with `npm --prefix ui run build` \
             (`make test` and CI do), then run this test again",
            index.display()
        )
    });
    // A hashed asset the page loads, e.g. `/assets/index-CZ6v8gog.js`.
    let asset = index_html
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .unwrap_or_else(|| panic!("no /assets/*.js in {}", index.display()))
        .to_string();

    let served = serve_copied_binary();
    let addr = served.addr.as_str();
    // The page travels inside the binary: it is not read from this checkout at run time.
    let image = std::fs::read(&served.bin).unwrap();
    assert!(
        image
            .windows(index_html.len())
            .any(|w| w == index_html.as_bytes()),
        "{} is not embedded in the reviewdesk binary",
        index.display()
    );

    let page = get(addr, "/", &[]);
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(page.header("cache-control"), "no-cache");
    let body = page.text();
    assert!(
        body.contains(r#"<div id="app">"#) && body.contains(&asset),
        "not the built index.html: {body}"
    );
    assert!(
        page.header("content-security-policy")
            .contains("default-src 'self'"),
        "the app's CSP: {:?}",
        page.headers
    );
    // Revalidation: the same ETag answers 304.
    let etag = page.header("etag").to_string();
    let again = get(addr, "/", &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    // A client-side route is the app's page too, revalidated every time.
    let route = get(addr, "/tasks/0190b6a4-1111-7000-8000-000000000000", &[]);
    assert_eq!(route.status, 200);
    assert_eq!(route.text(), body);
    assert_eq!(route.header("cache-control"), "no-cache");

    // A hashed asset: immutable, with its type, exactly the built file.
    let js = get(addr, &asset, &[]);
    assert_eq!(js.status, 200, "{asset}: {}", js.text());
    assert_eq!(js.header("content-type"), "text/javascript; charset=utf-8");
    let cache = js.header("cache-control");
    assert!(cache.contains("immutable"), "{asset}: {cache}");
    let on_disk = std::fs::read(ui_dist().join(asset.trim_start_matches('/'))).unwrap();
    assert!(js.body == on_disk, "{asset} differs from the built file");
    let etag = js.header("etag").to_string();
    assert_eq!(get(addr, &asset, &[("If-None-Match", &etag)]).status, 304);

    // Ranges are answered from the embedded bytes too.
    let part = get(addr, &asset, &[("Range", "bytes=2-9")]);
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range"),
        format!("bytes 2-9/{}", on_disk.len())
    );
    assert!(part.body == on_disk[2..=9], "the range's bytes");

    // A missing asset is not cached for good (it falls back to the page, revalidated).
    let missing = get(addr, "/assets/index-00000000.js", &[]);
    assert_eq!(missing.header("cache-control"), "no-cache");
}
