//! `reviewdesk`: the command line over the Review Desk core services.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use reviewdesk_core::review::local_reviewer;
use reviewdesk_core::store::TaskFilter;
use reviewdesk_core::{
    AssetName, Core, CoreOptions, NewTask, Priority, ReviewInput, ReviewService, Source, Status,
    Task, TaskId, TaskService, Worker,
};
mod audit_cmd;
mod notion_cmd;

use reviewdesk_runtime::{AppRuntime, RuntimeOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Review what an AI video pipeline generated, before the expensive steps run.
#[derive(Parser, Debug)]
#[command(name = "reviewdesk", version, about)]
struct Cli {
    /// Database URL: sqlite://<file> (default: a file in the user's data folder) or postgres://…
    #[arg(long, global = true, env = "REVIEWDESK_DATABASE_URL")]
    database_url: Option<String>,
    /// Workspace folder holding every task's files.
    #[arg(long, global = true, env = "REVIEWDESK_WORKSPACE")]
    workspace: Option<PathBuf>,
    /// Configuration folder (holds channels/*.yaml).
    #[arg(long, global = true, env = "REVIEWDESK_CONFIG_DIR")]
    config_dir: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a sample task and run it to Assets Ready.
    Demo,
    /// Add finished tasks of years past, spread over the channels (scale tests and benchmarks).
    #[command(hide = true)]
    History {
        /// How many.
        #[arg(long, default_value_t = 5000)]
        tasks: usize,
    },
    /// Add, list and show tasks.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Run the pipeline worker.
    Worker {
        /// Exit when no task needs a worker any more.
        #[arg(long)]
        until_idle: bool,
        /// Tasks run at once by this worker.
        #[arg(long, default_value_t = 2)]
        slots: usize,
        /// Also watch the workspace for files edited outside the app.
        #[arg(long)]
        watch: bool,
    },
    /// Serve the web UI and the API on 127.0.0.1 (runs the worker too).
    Serve {
        /// Address to listen on; anything but loopback requires --token.
        #[arg(long, default_value = "127.0.0.1:7777")]
        addr: std::net::SocketAddr,
        /// Do not run a worker in this process.
        #[arg(long)]
        no_worker: bool,
        /// Bearer token required by every request (needed to bind beyond loopback; at least 16
        /// characters). Prefer --token-file: a flag's value is visible to every user in `ps`.
        #[arg(long, env = "REVIEWDESK_SERVER_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// A file holding the bearer token (its first line), so it never shows in `ps`.
        #[arg(long, conflicts_with = "token")]
        token_file: Option<PathBuf>,
        /// Serve the UI from this folder (a `ui/dist` build, read on every request: for UI work)
        /// instead of the one embedded in this binary.
        #[arg(long, env = "REVIEWDESK_UI_DIR")]
        ui_dir: Option<PathBuf>,
    },
    /// Decide at a review gate.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// The Notion mirror: sync, init, check.
    #[command(subcommand)]
    Notion(notion_cmd::NotionCommand),
    /// The record of human review: every decision, exported as CSV or JSON.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// What the paid generators cost: per day, channel and step, and each channel today
    /// against its budget.
    Costs {
        /// Only this channel.
        #[arg(long)]
        channel: Option<String>,
        /// From this day (YYYY-MM-DD; default: 30 days ago).
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
    },
    /// Send an errored (or finished) task back to the queue.
    Retry {
        /// Task id.
        task: String,
    },
    /// Stop a task.
    Cancel {
        /// Task id.
        task: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum TaskCommand {
    /// Add a task (queued unless --draft).
    Add(AddArgs),
    /// List tasks.
    List {
        /// Only these statuses (internal value or board name); repeatable.
        #[arg(long)]
        status: Vec<String>,
        /// Only this channel.
        #[arg(long)]
        channel: Option<String>,
    },
    /// Show one task with its assets and audit trail.
    Show {
        /// Task id.
        task: String,
    },
}

#[derive(Args, Debug)]
struct AddArgs {
    /// Video title.
    #[arg(long)]
    title: String,
    /// Topic.
    #[arg(long, default_value = "")]
    topic: String,
    /// Story direction.
    #[arg(long, default_value = "")]
    story: String,
    /// Channel id (default: `default`).
    #[arg(long)]
    channel: Option<String>,
    /// high, normal or low.
    #[arg(long)]
    priority: Option<String>,
    /// Create as a draft instead of queuing.
    #[arg(long)]
    draft: bool,
    /// An asset plan file (YAML/JSON: characters, environments, props).
    #[arg(long)]
    plan_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum ReviewCommand {
    /// Approve tasks at their gate (up to 100, all or nothing).
    Approve {
        /// Task ids.
        #[arg(required = true)]
        tasks: Vec<String>,
        /// Optional note.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject tasks at their gate with feedback (up to 100, all or nothing).
    Reject {
        /// Task ids.
        #[arg(required = true)]
        tasks: Vec<String>,
        /// What to change (required).
        #[arg(long)]
        feedback: String,
        /// Asset to regenerate; repeatable. Without any, the assets already flagged count.
        #[arg(long = "flag")]
        flags: Vec<String>,
    },
    /// Flag an asset for regeneration (or clear the flag with --off).
    Flag {
        /// Task id.
        task: String,
        /// Asset name.
        asset: String,
        /// Optional note.
        #[arg(long)]
        note: Option<String>,
        /// Clear the flag.
        #[arg(long)]
        off: bool,
    },
}

fn parse_ids(ids: &[String]) -> anyhow::Result<Vec<TaskId>> {
    Ok(ids
        .iter()
        .map(|s| s.parse::<TaskId>())
        .collect::<Result<_, _>>()?)
}

fn print_task_line(t: &Task) {
    let since = chrono::Utc::now() - t.status_changed_at;
    let mins = since.num_minutes();
    let age = if mins < 60 {
        format!("{mins}m")
    } else {
        format!("{}h{:02}m", mins / 60, mins % 60)
    };
    println!(
        "{}  {:<20} {:>6}  {:<8} {}",
        t.id,
        t.status.board_name(),
        age,
        t.channel_id,
        t.title
    );
}

fn emit<T: serde::Serialize>(json: bool, value: &T, human: impl FnOnce()) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        human();
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Commands that run a worker read the paid providers' keys from the OS keyring (then the
    // environment); the others never touch the keyring.
    let worker_settings = match cli.command {
        Command::Worker { .. } | Command::Serve { .. } | Command::Demo => {
            let mut s = reviewdesk_core::config::WorkerSettings::from_env()?;
            s.providers.keys = reviewdesk_settings::SecretStore::os().provider_keys();
            Some(s)
        }
        _ => None,
    };
    let core: Arc<Core> = Core::open(CoreOptions {
        database_url: cli.database_url.clone(),
        workspace: cli.workspace.clone(),
        config_dir: cli.config_dir.clone(),
        worker_settings,
    })
    .await?;
    let tasks = TaskService::new(core.clone());
    let reviews = ReviewService::new(core.clone());
    let input = || ReviewInput::by(Source::Cli, local_reviewer());
    let json = cli.json;
    match cli.command {
        Command::Demo => {
            let task = tasks
                .create(
                    NewTask {
                        title: "Demo: Secrets of the deep sea".into(),
                        topic: "deep sea creatures".into(),
                        story_direction: "a calm, curious dive from the surface to the abyss"
                            .into(),
                        ..Default::default()
                    },
                    Source::Cli,
                )
                .await?;
            Worker::new(core.clone()).run_until_idle().await?;
            let detail = tasks.detail(task.id).await?;
            emit(json, &detail, || {
                print_task_line(&detail.task);
                println!(
                    "{} assets in {}",
                    detail.assets.len(),
                    core.workspace
                        .root()
                        .join(reviewdesk_core::workspace::Workspace::project_rel(
                            &detail.task.channel_id,
                            task.id
                        ))
                        .display()
                );
                println!("approve: reviewdesk review approve {}", task.id);
            })?;
        }
        Command::Task(TaskCommand::Add(a)) => {
            let priority = a.priority.as_deref().map(Priority::parse).transpose()?;
            let task = tasks
                .create(
                    NewTask {
                        channel_id: a.channel,
                        title: a.title,
                        topic: a.topic,
                        story_direction: a.story,
                        priority,
                        draft: a.draft,
                        // Only the CLI reads a local file; every door sends the plan's text.
                        plan: a.plan_file.as_deref().map(read_plan).transpose()?,
                        notion_page_id: None,
                    },
                    Source::Cli,
                )
                .await?;
            emit(json, &task, || print_task_line(&task))?;
        }
        Command::Task(TaskCommand::List { status, channel }) => {
            let statuses = status
                .iter()
                .map(|s| s.parse::<Status>())
                .collect::<Result<Vec<_>, _>>()?;
            let list = tasks
                .list(&TaskFilter {
                    statuses,
                    channel_id: channel,
                    limit: None,
                    ..Default::default()
                })
                .await?;
            emit(json, &list, || list.iter().for_each(print_task_line))?;
        }
        Command::Task(TaskCommand::Show { task }) => {
            let detail = tasks.detail(task.parse()?).await?;
            emit(json, &detail, || {
                print_task_line(&detail.task);
                for a in &detail.assets {
                    let flag = if a.asset.flagged { " [flagged]" } else { "" };
                    println!(
                        "  {:<12} {:<16} v{} {}{flag}",
                        a.asset.kind.as_str(),
                        a.asset.name,
                        a.asset.current_version,
                        a.asset.review_state.as_str()
                    );
                }
                println!(
                    "spent so far: {}",
                    reviewdesk_core::costs::Usd::from_dollars(detail.spent_usd)
                );
                if !detail.task.error_log.is_empty() {
                    println!("error log:\n{}", detail.task.error_log);
                }
            })?;
        }
        Command::Worker {
            until_idle,
            slots,
            watch,
        } => {
            let worker = Worker::new(core.clone()).with_slots(slots);
            let _watch = if watch {
                Some(reviewdesk_core::watcher::watch(core.clone())?)
            } else {
                None
            };
            if until_idle {
                worker.run_until_idle().await?;
            } else {
                let (tx, rx) = tokio::sync::watch::channel(false);
                let mut signals = Signals::new()?;
                tokio::spawn(async move {
                    signals.next().await;
                    let _ = tx.send(true);
                    signals.next().await;
                    eprintln!("second signal: exiting at once");
                    // Step programs run in process groups of their own: stop them too.
                    reviewdesk_core::executor::kill_all_running_programs();
                    std::process::exit(130);
                });
                eprintln!("worker {} running; Ctrl-C stops it", worker.id());
                worker.run(rx).await?;
            }
        }
        Command::Serve {
            addr,
            no_worker,
            token,
            token_file,
            ui_dir,
        } => {
            let token = match token_file {
                Some(path) => Some(read_token_file(&path)?),
                None => token,
            };
            let runtime = AppRuntime::start(
                core.clone(),
                RuntimeOptions {
                    run_worker: !no_worker,
                    notion_token: std::env::var(notion_cmd::TOKEN_ENV).ok(),
                    ..RuntimeOptions::default()
                },
            )
            .await?;
            let server = reviewdesk_server::bind(
                runtime.clone(),
                reviewdesk_server::ServerConfig {
                    addr,
                    token,
                    ui_dir,
                },
            )
            .await?;
            {
                use std::io::Write;
                let mut out = std::io::stdout();
                writeln!(out, "listening on http://{}", server.local_addr)?;
                out.flush()?;
            }
            let stopped = runtime.stopped();
            let serving = tokio::spawn(server.run(stopped));
            let mut signals = Signals::new()?;
            signals.next().await;
            // A second signal means "now": skip the orderly stop.
            tokio::spawn(async move {
                signals.next().await;
                eprintln!("second signal: exiting at once");
                // Step programs run in process groups of their own: stop them too.
                reviewdesk_core::executor::kill_all_running_programs();
                std::process::exit(130);
            });
            // Orderly: the worker stops at its next safe point (its running program killed, its
            // lease released), event streams close, in-flight requests finish. Bounded, so a
            // stuck client or disk never keeps the process alive.
            let orderly = async {
                runtime.shutdown().await?;
                serving.await??;
                anyhow::Ok(())
            };
            match tokio::time::timeout(SHUTDOWN_GRACE, orderly).await {
                Ok(r) => r?,
                Err(_) => eprintln!(
                    "warning: not everything stopped within {} s; exiting anyway",
                    SHUTDOWN_GRACE.as_secs()
                ),
            }
        }
        Command::Review(ReviewCommand::Approve { tasks: ids, note }) => {
            let mut i = input();
            i.reason = note;
            let done = reviews.bulk_approve(&parse_ids(&ids)?, i).await?;
            emit(json, &done, || done.iter().for_each(print_task_line))?;
        }
        Command::Review(ReviewCommand::Reject {
            tasks: ids,
            feedback,
            flags,
        }) => {
            let flags = if flags.is_empty() {
                None
            } else {
                Some(
                    flags
                        .iter()
                        .map(AssetName::parse)
                        .collect::<Result<Vec<_>, _>>()?,
                )
            };
            let done = reviews
                .bulk_reject(&parse_ids(&ids)?, flags, input().with_reason(feedback))
                .await?;
            emit(json, &done, || done.iter().for_each(print_task_line))?;
        }
        Command::Review(ReviewCommand::Flag {
            task,
            asset,
            note,
            off,
        }) => {
            let id: TaskId = task.parse()?;
            let name = AssetName::parse(asset)?;
            reviews.flag(id, &name, !off, note, Source::Cli).await?;
            let a = core.store.asset(id, &name).await?;
            emit(json, &a, || {
                println!(
                    "{} {}",
                    a.name,
                    if a.flagged { "flagged" } else { "not flagged" }
                )
            })?;
        }
        Command::Notion(c) => notion_cmd::run(core.clone(), c, json).await?,
        Command::Audit(c) => audit_cmd::run(core.clone(), c).await?,
        Command::History { tasks: n } => {
            let channels: Vec<_> = core.channels().into_iter().map(|c| c.channel_id).collect();
            anyhow::ensure!(!channels.is_empty(), "no channel is configured");
            let now = chrono::Utc::now();
            let made: Vec<Task> = (0..n)
                .map(|i| {
                    // Most published, some cancelled, a few never started; one every few hours
                    // going back from now.
                    let status = match i % 20 {
                        0..=2 => Status::Cancelled,
                        3 => Status::Draft,
                        _ => Status::Published,
                    };
                    let at = now - chrono::Duration::hours(3 * (n - i) as i64);
                    Task::new(
                        channels[i % channels.len()].clone(),
                        format!("Archive episode {i:05}"),
                        status,
                        at,
                    )
                })
                .collect();
            core.store.insert_tasks_for_test(&made).await?;
            if !json {
                println!("{} finished tasks added", made.len());
            }
        }
        Command::Costs { channel, since } => {
            let channel = channel
                .map(|c| reviewdesk_core::ChannelId::parse(&c))
                .transpose()?;
            if let Some(c) = &channel {
                core.channel(c)?;
            }
            let since = since
                .unwrap_or_else(|| (chrono::Utc::now() - chrono::Duration::days(30)).date_naive());
            let report =
                reviewdesk_core::cost_report::cost_report(&core, channel.as_ref(), since).await?;
            emit(json, &report, || {
                for l in &report.lines {
                    println!(
                        "{}  {:<16} {:<9} {:>4} calls  {}",
                        l.day,
                        l.channel_id,
                        l.step,
                        l.calls,
                        reviewdesk_core::costs::Usd::from_dollars(l.usd)
                    );
                }
                println!(
                    "total since {since}: {}",
                    reviewdesk_core::costs::Usd::from_dollars(report.total_usd)
                );
                for t in &report.today {
                    let budget = t
                        .budget_usd
                        .map(|b| format!(" of {}", reviewdesk_core::costs::Usd::from_dollars(b)))
                        .unwrap_or_else(|| " (no budget)".into());
                    println!(
                        "today {}: {}{budget}",
                        t.channel_id,
                        reviewdesk_core::costs::Usd::from_dollars(t.spent_usd)
                    );
                }
            })?;
        }
        Command::Retry { task } => {
            let t = reviews.retry(task.parse()?, input()).await?;
            emit(json, &t, || print_task_line(&t))?;
        }
        Command::Cancel { task, reason } => {
            let mut i = input();
            i.reason = reason;
            let t = reviews.cancel(task.parse()?, i).await?;
            emit(json, &t, || print_task_line(&t))?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let logs = reviewdesk_core::context::default_data_dir().join("logs");
    let _guard = reviewdesk_core::telemetry::init(Some(&logs), level);
    let rt = match tokio::runtime::Runtime::new().context("cannot start the async runtime") {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line; the chain of causes joined.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A plan file's text, checked here so that an error names the file rather than "plan".
fn read_plan(path: &std::path::Path) -> Result<String, reviewdesk_core::CoreError> {
    use reviewdesk_core::asset::AssetPlan;
    let text = AssetPlan::read_text(path)?;
    AssetPlan::parse(&text, &path.display().to_string())?;
    Ok(text)
}

/// How long `serve` waits for an orderly stop after SIGINT or SIGTERM.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(4);

/// SIGINT (Ctrl-C) and SIGTERM (systemd, `kill`), as one stream of stop requests.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// The token in a `--token-file`: its first line, trimmed.
fn read_token_file(path: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context;
    let bytes = reviewdesk_core::workspace::read_regular_file(path, 4096)
        .with_context(|| format!("cannot read the token file {}", path.display()))?;
    let text = String::from_utf8(bytes)
        .ok()
        .with_context(|| format!("the token file {} is not text", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    anyhow::ensure!(
        !token.is_empty(),
        "the token file {} is empty",
        path.display()
    );
    Ok(token)
}
