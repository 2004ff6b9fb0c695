//! `reviewdesk serve` as a process: how it stops, and how it takes its token.

use std::io::{BufRead, Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

struct Serve {
    _dir: tempfile::TempDir,
    child: Child,
    addr: String,
}

fn serve(extra: &[&str]) -> Serve {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("cfg/channels")).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("reviewdesk"))
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
        .env_remove("REVIEWDESK_SERVER_TOKEN")
        .env_remove("RUST_LOG")
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
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
    Serve {
        _dir: dir,
        child,
        addr,
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a request and returns the socket after the response head arrived (the body may stay
/// open, as an event stream does), with the status code.
fn open(addr: &str, path: &str, auth: Option<&str>) -> (std::net::TcpStream, u16) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = auth
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (s, status)
}

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Waits for the process to end, up to `limit`; `None` if it is still running.
fn exit_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigint_and_sigterm_stop_serve_within_5_seconds_with_an_event_stream_open() {
    for sig in ["-INT", "-TERM"] {
        let mut s = serve(&[]);
        let (mut events, status) = open(&s.addr, "/api/events", None);
        assert_eq!(status, 200);
        signal(&s.child, sig);
        let exited = exit_within(&mut s.child, Duration::from_secs(5));
        assert!(exited.is_some(), "{sig}: serve still running after 5 s");
        // The stream was closed by the server, not left dangling.
        let mut rest = Vec::new();
        let _ = events.read_to_end(&mut rest);
    }
}

#[test]
fn the_token_can_come_from_a_file_and_never_shows_in_the_process_list() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    let token = "file-token-0123456789abcdef";
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let s = serve(&["--token-file", file.to_str().unwrap()]);
    assert_eq!(open(&s.addr, "/api/tasks", None).1, 401);
    assert_eq!(open(&s.addr, "/api/tasks", Some(token)).1, 200);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", s.child.id())).unwrap();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains(token),
        "the token is visible in ps"
    );
}
