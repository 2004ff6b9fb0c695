//! Running a program for a step: in a process group of its own (a timeout, a cancel or the
//! worker's shutdown stops it with everything it started), without the app's secrets in its
//! environment, its stderr read to the end with only the tail kept for messages, and its partial
//! output removed unless it finished. Both a user's command and the built-in media steps
//! (ffmpeg, espeak-ng) run through [`run_program`].

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::executor::{StagedFile, StepFailure};
use crate::task::ErrorCategory;

/// How much of a program's stderr is kept (the end of it) for the failure message.
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// Classifies a program's exit code (sysexits.h conventions where they exist).
pub fn classify_exit(code: Option<i32>) -> ErrorCategory {
    match code {
        // Killed by a signal: the machine or a person stopped it; try again.
        None => ErrorCategory::Transient,
        Some(69 | 75 | 124) => ErrorCategory::Transient, // unavailable, tempfail, timeout(1)
        Some(77 | 78 | 126 | 127) => ErrorCategory::Configuration, // noperm, config, not executable, not found
        Some(64..=68) => ErrorCategory::Permanent, // usage, dataerr, noinput, nouser, nohost
        Some(_) => ErrorCategory::Unknown,
    }
}

/// Replaces the values of secret-looking environment variables (tokens, keys, passwords) in text
/// that is about to be logged or stored.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for (name, value) in std::env::vars() {
        let upper = name.to_ascii_uppercase();
        let secret = ["TOKEN", "SECRET", "KEY", "PASSWORD", "CREDENTIAL"]
            .iter()
            .any(|w| upper.contains(w));
        if secret && value.len() >= 6 && out.contains(&value) {
            out = out.replace(&value, "[redacted]");
        }
    }
    out
}

/// Variables a step program never inherits, by exact name: the app's own secrets and database
/// URLs. Anything matching [`is_secret_env`]'s patterns is removed as well.
pub const SECRET_ENV: &[&str] = &[
    "NOTION_TOKEN",
    "NOTION_WEBHOOK_SECRET",
    "REVIEWDESK_SERVER_TOKEN",
    "REVIEWDESK_DATABASE_URL",
    "REVIEWDESK_TEST_PG_URL",
    "DATABASE_URL",
    "PGPASSWORD",
    "PGPASSFILE",
    "GEMINI_API_KEY",
    "KLING_ACCESS_KEY",
    "KLING_SECRET_KEY",
    "ELEVENLABS_API_KEY",
];

/// Whether an environment variable must be kept from a step program: the names in
/// [`SECRET_ENV`], cloud storage keys (`R2_*`, `AWS_*`), anything named like a secret (`*SECRET*`,
/// `*TOKEN*`, `*PASSWORD*`, `*PASSWD*`, `*CREDENTIAL*`, a `KEY` word), any `*DATABASE_URL*`, and
/// any URL that carries a password (`scheme://user:password@host`). A program is the user's
/// code and may log or upload its environment; it gets what it needs through its arguments.
pub fn is_secret_env(name: &str, value: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if SECRET_ENV.contains(&upper.as_str())
        || upper.starts_with("R2_")
        || upper.starts_with("AWS_")
        || upper.contains("DATABASE_URL")
    {
        return true;
    }
    if ["SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL"]
        .iter()
        .any(|w| upper.contains(w))
    {
        return true;
    }
    if upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| matches!(word, "KEY" | "KEYS" | "APIKEY"))
    {
        return true;
    }
    url_has_password(value)
}

fn url_has_password(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// Removes the secret variables of this process from a child's environment.
pub(crate) fn scrub_env(cmd: &mut tokio::process::Command) {
    for (name, value) in std::env::vars_os() {
        let (n, v) = (name.to_string_lossy(), value.to_string_lossy());
        if is_secret_env(&n, &v) {
            cmd.env_remove(&name);
        }
    }
}

/// Sends SIGKILL to every process of a group. std has no `killpg` and this crate forbids unsafe
/// code, so the shell's `kill` builtin sends it (one short process; failures mean the group is
/// already gone).
pub fn kill_process_group(pgid: u32) {
    if pgid <= 1 {
        return;
    }
    let _ = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -s KILL -- -{pgid} 2>/dev/null"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The process groups of the step programs running in this process.
static RUNNING_GROUPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

fn running_groups() -> std::sync::MutexGuard<'static, Vec<u32>> {
    RUNNING_GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills the process groups of every step program running in this process, at once. For a
/// process about to exit without an orderly stop (a second Ctrl-C before `std::process::exit`):
/// the programs run in process groups of their own, so they would otherwise outlive it. An
/// orderly stop is [`crate::worker::Worker::shutdown`], which also gives the leases back.
pub fn kill_all_running_programs() {
    let groups = std::mem::take(&mut *running_groups());
    for pgid in groups {
        kill_process_group(pgid);
    }
}

/// Kills a running program's process group and removes its partial output when dropped: on a
/// timeout, and when the worker drops the item's future (cancel, lost lease, shutdown).
struct RunningProgram {
    pgid: Option<u32>,
    partial: Option<PathBuf>,
}

impl RunningProgram {
    fn new(pgid: Option<u32>, partial: PathBuf) -> Self {
        if let Some(g) = pgid {
            running_groups().push(g);
        }
        RunningProgram {
            pgid,
            partial: Some(partial),
        }
    }

    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            running_groups().retain(|g| *g != pgid);
            kill_process_group(pgid);
        }
    }

    /// The program exited: its group is killed now (stragglers it left behind must not write
    /// after the output is checked) and the partial file becomes the caller's.
    fn finished(&mut self) -> Option<PathBuf> {
        self.kill();
        self.partial.take()
    }
}

impl Drop for RunningProgram {
    fn drop(&mut self) {
        self.kill();
        if let Some(p) = self.partial.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The last `cap` bytes of a stream.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    buf: VecDeque<u8>,
    cap: usize,
}

impl Tail {
    /// An empty tail keeping at most `cap` bytes.
    pub(crate) fn new(cap: usize) -> Self {
        Tail {
            buf: VecDeque::new(),
            cap,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let bytes = &bytes[bytes.len().saturating_sub(self.cap)..];
        let overflow = (self.buf.len() + bytes.len()).saturating_sub(self.cap);
        self.buf.drain(..overflow);
        self.buf.extend(bytes);
    }

    /// The last lines (progress redraws with `\r` count as lines), joined with " | ".
    pub(crate) fn last_lines(&self, n: usize) -> String {
        let bytes: Vec<u8> = self.buf.iter().copied().collect();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text
            .split(['\n', '\r'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let joined = lines[lines.len().saturating_sub(n)..].join(" | ");
        // A single huge line must not become a huge message: keep its end.
        match joined.char_indices().rev().nth(1999) {
            Some((i, _)) => format!("…{}", &joined[i..]),
            None => joined,
        }
    }
}

/// Reads a stream to its end, keeping the last `cap` bytes.
async fn drain_tail(mut r: impl tokio::io::AsyncRead + Unpin, cap: usize) -> Tail {
    let mut tail = Tail {
        buf: VecDeque::new(),
        cap,
    };
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return tail,
            Ok(n) => tail.push(&chunk[..n]),
        }
    }
}

/// One run of a program for a step.
pub(crate) struct Program<'a> {
    /// Program path or name on PATH.
    pub program: &'a str,
    /// Its arguments.
    pub args: Vec<String>,
    /// Bytes written to its stdin (then closed); stdin is empty otherwise.
    pub stdin: Option<Vec<u8>>,
    /// Time limit.
    pub timeout: Duration,
    /// The file it writes: removed if the run does not finish, handed back if it does.
    pub partial: PathBuf,
    /// What it works on, for messages (`clip_03`).
    pub item: &'a str,
    /// Said after "cannot start …" (how to fix the program's configuration).
    pub start_hint: &'a str,
    /// Said after a timeout (how to give it longer).
    pub timeout_hint: &'a str,
    /// Called with the seconds of media written, read from `-progress pipe:1` lines on stdout
    /// (ffmpeg); stdout is discarded when `None`.
    pub progress: Option<&'a (dyn Fn(f64) + Send + Sync)>,
}

/// Runs a program to its end (see the module's documentation) and hands back its partial output
/// file when it exited 0; the file may be missing or empty (the caller checks it).
pub(crate) async fn run_program(p: Program<'_>) -> Result<StagedFile, StepFailure> {
    let mut cmd = tokio::process::Command::new(p.program);
    cmd.args(&p.args)
        .stdin(if p.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(if p.progress.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    scrub_env(&mut cmd);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        let category = if e.kind() == std::io::ErrorKind::NotFound
            || e.kind() == std::io::ErrorKind::PermissionDenied
        {
            ErrorCategory::Configuration
        } else {
            ErrorCategory::Transient
        };
        StepFailure::new(
            category,
            format!("cannot start {:?}: {e}; {}", p.program, p.start_hint),
        )
    })?;
    let mut running = RunningProgram::new(child.id(), p.partial);
    if let (Some(bytes), Some(mut stdin)) = (p.stdin, child.stdin.take()) {
        // A program that exits without reading it all closes the pipe: its exit status says
        // what went wrong, not this write.
        let _ = stdin.write_all(&bytes).await;
        drop(stdin);
    }
    // Read to the end however much comes, keeping the end: a program stopped from writing its
    // progress would die of SIGPIPE.
    let stderr = child
        .stderr
        .take()
        .map(|e| drain_tail(e, STDERR_TAIL_BYTES));
    let mut stderr = tokio::spawn(async move {
        match stderr {
            Some(f) => f.await,
            None => Tail::default(),
        }
    });
    let stdout = child.stdout.take();
    let progress = p.progress;
    let read_progress = async move {
        let Some(out) = stdout else {
            return;
        };
        let mut lines = tokio::io::BufReader::new(out).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let (Some(report), Some(s)) = (progress, reviewdesk_media::progress_seconds(&line)) {
                report(s);
            }
        }
    };
    let waited = tokio::time::timeout(p.timeout, async {
        let (status, ()) = tokio::join!(child.wait(), read_progress);
        status
    })
    .await;
    let status = match waited {
        Ok(status) => status,
        Err(_) => {
            drop(running); // kills the whole group, removes the partial output
            let tail = tokio::time::timeout(Duration::from_secs(2), &mut stderr)
                .await
                .ok()
                .and_then(Result::ok)
                .map(|t| t.last_lines(3))
                .unwrap_or_default();
            stderr.abort();
            let said = if tail.is_empty() {
                String::new()
            } else {
                format!(" (it last said: {tail})")
            };
            return Err(StepFailure::new(
                ErrorCategory::Transient,
                redact(&format!(
                    "{} timed out after {} s on {} and was stopped with everything it started{said}; {}",
                    p.program,
                    p.timeout.as_secs(),
                    p.item,
                    p.timeout_hint
                )),
            ));
        }
    };
    let partial = running.finished();
    // The group is gone, so the pipe closes; a program that escaped it (setsid) must not hold
    // the item forever.
    let tail = match tokio::time::timeout(Duration::from_secs(5), &mut stderr).await {
        Ok(Ok(t)) => t,
        _ => {
            stderr.abort();
            Tail::default()
        }
    };
    // From here the partial file is ours to keep or remove.
    let staged = partial.map(StagedFile::new);
    let status = status.map_err(|e| {
        StepFailure::new(
            ErrorCategory::Transient,
            format!("waiting for {}: {e}", p.program),
        )
    })?;
    if !status.success() {
        let category = classify_exit(status.code());
        let code = status
            .code()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "a signal".into());
        return Err(StepFailure::new(
            category,
            redact(&format!(
                "{} exited with {code} on {}: {}",
                p.program,
                p.item,
                tail.last_lines(5)
            )),
        ));
    }
    staged.ok_or_else(|| StepFailure::new(ErrorCategory::Transient, "the partial output was lost"))
}

/// Runs a short ffprobe query and gives back what it printed. A missing ffprobe is a
/// configuration failure naming the package; what the output means is the caller's to judge.
pub(crate) async fn ffprobe_stdout(ffprobe: &str, args: &[String]) -> Result<Vec<u8>, StepFailure> {
    let out = tokio::process::Command::new(ffprobe)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            StepFailure::new(
                ErrorCategory::Configuration,
                format!("cannot run {ffprobe}: {e}; install the Debian package ffmpeg"),
            )
        })?;
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_classified() {
        assert_eq!(classify_exit(Some(75)), ErrorCategory::Transient);
        assert_eq!(classify_exit(Some(78)), ErrorCategory::Configuration);
        assert_eq!(classify_exit(Some(127)), ErrorCategory::Configuration);
        assert_eq!(classify_exit(Some(65)), ErrorCategory::Permanent);
        assert_eq!(classify_exit(Some(1)), ErrorCategory::Unknown);
        assert_eq!(classify_exit(None), ErrorCategory::Transient);
    }

    #[test]
    fn secret_variables_are_recognised_by_name_and_by_url_password() {
        for name in [
            "NOTION_TOKEN",
            "REVIEWDESK_SERVER_TOKEN",
            "NOTION_WEBHOOK_SECRET",
            "R2_ACCOUNT_ID",
            "AWS_REGION",
            "REVIEWDESK_DATABASE_URL",
            "PGPASSWORD",
            "REVIEWDESK_TEST_PG_URL",
            "GEMINI_API_KEY",
            "KLING_ACCESS_KEY",
            "openai_api_key",
            "SSH_KEY",
        ] {
            assert!(is_secret_env(name, "x"), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "LANG",
            "KEYBOARD_LAYOUT",
            "REVIEWDESK_WORKSPACE",
        ] {
            assert!(!is_secret_env(name, "/usr/bin"), "{name}");
        }
        assert!(is_secret_env("MIRROR", "https://u:pw@example.com/x"));
        assert!(!is_secret_env("MIRROR", "https://example.com/a@b"));
        assert!(!is_secret_env("MIRROR", "https://user@example.com/"));
    }

    #[test]
    fn the_tail_keeps_the_last_bytes_and_lines() {
        let mut t = Tail::new(16);
        t.push(b"first line\nsecond line\n");
        t.push(b"progress 1\rprogress 2\rdone\n");
        assert_eq!(t.buf.len(), 16);
        assert_eq!(t.last_lines(2), "progress 2 | done");
        t.push(&[b'x'; 100]);
        assert_eq!(t.last_lines(5), "x".repeat(16));
        let mut huge = Tail::new(64 * 1024);
        huge.push("é".repeat(10_000).as_bytes());
        let line = huge.last_lines(1);
        assert!(
            line.starts_with('…') && line.chars().count() <= 2001,
            "{}",
            line.len()
        );
    }
}
