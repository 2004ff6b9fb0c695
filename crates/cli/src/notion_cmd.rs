//! `reviewdesk notion …`: sync, init and check, and the mirror started by `reviewdesk serve`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use reviewdesk_core::{ChannelId, Core};
use reviewdesk_notion::{NotionClient, NotionToken, PageId};
use reviewdesk_sync::{Mirror, MirrorConfig, setup};

/// Environment variable holding the integration token (the keyring comes with the desktop app).
///
/// The mirror's R2 credentials are read like the desktop app reads them: the OS keyring first
/// (`MirrorConfig`'s default secrets are `SecretStore::os()`), then `R2_ACCESS_KEY_ID` /
/// `R2_SECRET_ACCESS_KEY`.
pub const TOKEN_ENV: &str = "NOTION_TOKEN";

/// The Notion mirror commands.
#[derive(Subcommand, Debug)]
pub enum NotionCommand {
    /// Mirror tasks to Notion and creators' decisions back (Ctrl-C stops).
    Sync {
        /// One round out and one poll in, then exit.
        #[arg(long)]
        once: bool,
    },
    /// Create the Tasks, Assets, Videos and Audio databases under a page and record their ids.
    Init {
        /// A page shared with the integration (… → Connections).
        #[arg(long)]
        parent_page: String,
        /// The channel whose YAML file receives the ids.
        #[arg(long)]
        channel: String,
    },
    /// Validate the token, access to every database and every property; name each fix.
    Check {
        /// Only this channel.
        #[arg(long)]
        channel: Option<String>,
        /// First add the missing properties and select options (never changes a property's
        /// type), then check.
        #[arg(long)]
        fix: bool,
    },
    /// The webhook's verification token: show the pending one, confirm it, or reset.
    Webhook {
        /// What to do.
        #[command(subcommand)]
        cmd: WebhookCommand,
    },
    /// Same as `webhook reset` (kept for scripts written before `webhook`).
    #[command(hide = true)]
    WebhookReset,
    /// List the tasks whose events cannot be mirrored (the oldest failing event of each), and
    /// the events already discarded.
    Outbox,
    /// Drop a waiting event that can never be sent (recorded in the task's Error Log), so the
    /// task's later events can go.
    Discard {
        /// The event id, as `reviewdesk notion outbox` shows it.
        event_id: i64,
        /// Why it is dropped (kept in the audit trail).
        #[arg(long)]
        reason: String,
    },
}

/// `reviewdesk notion webhook …`.
#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Show the token of the last handshake waiting for confirmation, and whether one is
    /// confirmed.
    Status,
    /// Trust the pending token (after pasting it into Notion's Webhooks tab, which accepts only
    /// the token Notion sent): signed events are accepted from then on.
    Confirm {
        /// The pending token, as `reviewdesk notion webhook status` shows it.
        token: String,
    },
    /// Forget the confirmed and the pending token; events are refused until a new handshake is
    /// confirmed.
    Reset,
}

fn client() -> anyhow::Result<NotionClient> {
    let token = std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .with_context(|| {
            format!("no Notion token: set {TOKEN_ENV} to the integration's secret (ntn_…)")
        })?;
    Ok(NotionClient::new(NotionToken::new(token.trim()))?)
}

fn channel_file(core: &Core, channel: &str) -> PathBuf {
    core.config_dir
        .join("channels")
        .join(format!("{channel}.yaml"))
}

/// Runs a `notion` subcommand.
pub async fn run(core: Arc<Core>, cmd: NotionCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        NotionCommand::Sync { once } => {
            anyhow::ensure!(
                Mirror::configured(&core),
                "no channel has Notion database ids: run `reviewdesk notion init --parent-page <id> --channel <channel>`"
            );
            let mirror = Mirror::new(core.clone(), client()?, MirrorConfig::from_env()).await?;
            if once {
                let out = mirror.push_once().await?;
                let pulled = mirror.pull_once().await?;
                let out2 = mirror.push_once().await?;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"pushed_events": out + out2, "pulled_pages": pulled})
                    );
                } else {
                    println!("pushed {} events, read {pulled} pages", out + out2);
                }
            } else {
                eprintln!("Notion mirror running; Ctrl-C stops it");
                tokio::select! {
                    _ = mirror.run() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
        }
        NotionCommand::Init {
            parent_page,
            channel,
        } => {
            let id = ChannelId::parse(channel.clone())?;
            let path = channel_file(&core, id.as_str());
            let name = match core.channel(&id) {
                Ok(c) => c.channel_name,
                Err(_) => channel.clone(),
            };
            if !path.exists() {
                std::fs::create_dir_all(path.parent().expect("has a parent"))?;
                std::fs::write(
                    &path,
                    format!(
                        "channel_id: {channel}\nchannel_name: {name}\nstorage_strategy: notion\n"
                    ),
                )
                .with_context(|| format!("writing {}", path.display()))?;
            }
            let ids = setup::init(&client()?, &PageId::new(&parent_page), &name).await?;
            setup::write_channel_ids(&path, &ids)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&ids)?);
            } else {
                println!(
                    "created the Tasks, Assets, Videos and Audio databases; ids written to {}",
                    path.display()
                );
            }
        }
        NotionCommand::WebhookReset => webhook_cmd(&core, WebhookCommand::Reset, json).await?,
        NotionCommand::Webhook { cmd } => webhook_cmd(&core, cmd, json).await?,
        NotionCommand::Outbox => {
            let store = reviewdesk_sync::SyncStore::open(core.store.pool()).await?;
            let stuck = store.stuck().await?;
            let (waiting, _) = store.waiting().await?;
            let discarded = store.discarded().await?;
            let refused = store.refused_pages().await?;
            if json {
                let stuck: Vec<_> = stuck
                    .iter()
                    .map(|s| {
                        serde_json::json!({"event_id": s.event_id, "task_id": s.task_id,
                            "attempts": s.attempts, "next_attempt_at_ms": s.next_attempt_at,
                            "last_error": s.last_error, "waiting": s.waiting})
                    })
                    .collect();
                let discarded: Vec<_> = discarded
                    .iter()
                    .map(|d| {
                        serde_json::json!({"event_id": d.event_id, "task_id": d.task_id,
                            "kind": d.kind, "attempts": d.attempts, "last_error": d.last_error,
                            "reason": d.reason, "discarded_by": d.discarded_by,
                            "discarded_at_ms": d.discarded_at})
                    })
                    .collect();
                let refused: Vec<_> = refused
                    .iter()
                    .map(|r| {
                        serde_json::json!({"page_id": r.page_id, "title": r.title,
                            "notion_status": r.notion_status, "reason": r.reason,
                            "error_log_written": r.error_log_written, "refused_at_ms": r.refused_at})
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"waiting": waiting, "stuck": stuck, "discarded": discarded,
                        "refused_pages": refused})
                );
            } else {
                println!("{waiting} event(s) waiting to be mirrored");
                for s in &stuck {
                    println!(
                        "task {}: event {} failed {} time(s), {} event(s) of the task wait behind it: {}",
                        s.task_id,
                        s.event_id,
                        s.attempts,
                        s.waiting,
                        s.last_error.as_deref().unwrap_or("")
                    );
                }
                if !stuck.is_empty() {
                    println!(
                        "each retries on its own; to drop one for good: reviewdesk notion discard <event id> --reason \"…\""
                    );
                }
                for d in &discarded {
                    println!(
                        "discarded: event {} ({}) of task {} by {}: {}",
                        d.event_id, d.kind, d.task_id, d.discarded_by, d.reason
                    );
                }
                for r in &refused {
                    println!(
                        "Notion page \"{}\" ({}) not applied (Status \"{}\"): {}{}",
                        r.title,
                        r.page_id,
                        r.notion_status,
                        r.reason,
                        if r.error_log_written {
                            " — its Error Log says so"
                        } else {
                            ""
                        }
                    );
                }
                if !refused.is_empty() {
                    println!(
                        "fix each page in Notion and set its Status again; the next poll applies it"
                    );
                }
            }
        }
        NotionCommand::Discard { event_id, reason } => {
            anyhow::ensure!(
                !reason.trim().is_empty(),
                "--reason must say why the event is dropped (it goes into the audit trail)"
            );
            let mirror = Mirror::new(core.clone(), client()?, MirrorConfig::default()).await?;
            let d = mirror
                .discard(event_id, reason.trim(), reviewdesk_core::Source::Cli)
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"event_id": d.event_id, "task_id": d.task_id, "kind": d.kind})
                );
            } else {
                println!(
                    "discarded event {} ({}) of task {}; its later events go on",
                    d.event_id, d.kind, d.task_id
                );
            }
        }
        NotionCommand::Check { channel, fix } => {
            let client = client()?;
            let mut problems = 0;
            let mut any = false;
            for c in core.channels() {
                if channel
                    .as_deref()
                    .is_some_and(|w| w != c.channel_id.as_str())
                {
                    continue;
                }
                if channel.is_none() && c.notion.tasks_database_id.is_none() {
                    continue;
                }
                any = true;
                if fix {
                    for a in setup::add_missing(&client, &c.notion).await? {
                        println!("{}: {}: {}", c.channel_id, a.database, a.message);
                    }
                }
                let found = setup::check(&client, &c.notion).await?;
                problems += found.len();
                for f in &found {
                    let hint = if f.fixable { " (--fix adds it)" } else { "" };
                    println!("{}: {}: {}{hint}", c.channel_id, f.database, f.message);
                }
                if found.is_empty() {
                    println!(
                        "{}: token, access and every property are as Review Desk needs",
                        c.channel_id
                    );
                }
            }
            anyhow::ensure!(
                any,
                "no channel has Notion database ids: run `reviewdesk notion init --parent-page <id> --channel <channel>`"
            );
            // R2 credentials as the mirror reads them: the OS keyring, then the environment.
            let secrets = MirrorConfig::default().secrets;
            for c in core.channels() {
                let (reviewdesk_core::config::StorageStrategy::R2, Some(r2)) =
                    (&c.storage_strategy, &c.r2)
                else {
                    continue;
                };
                if channel
                    .as_deref()
                    .is_some_and(|w| w != c.channel_id.as_str())
                {
                    continue;
                }
                let (r2, store) = (r2.clone(), secrets.clone());
                match tokio::task::spawn_blocking(move || {
                    reviewdesk_sync::describe_r2_credentials(&r2, &store)
                })
                .await?
                {
                    Ok(said) => println!("{}: {said}", c.channel_id),
                    Err(e) => {
                        problems += 1;
                        println!("{}: r2: {e}", c.channel_id);
                    }
                }
            }
            if let Ok(store) = reviewdesk_sync::SyncStore::open(core.store.pool()).await
                && let Ok(w) = reviewdesk_sync::webhook::status(&store).await
                && let Some(t) = w.pending_token
            {
                println!(
                    "webhook verification token waiting for confirmation (paste it into the integration's Webhooks tab, then `reviewdesk notion webhook confirm <token>`): {t}"
                );
            }
            anyhow::ensure!(
                problems == 0,
                "{problems} problem(s) found; fix them as named above"
            );
        }
    }
    Ok(())
}

async fn webhook_cmd(core: &Core, cmd: WebhookCommand, json: bool) -> anyhow::Result<()> {
    use reviewdesk_sync::webhook;
    let store = reviewdesk_sync::SyncStore::open(core.store.pool()).await?;
    match cmd {
        WebhookCommand::Status => {
            let w = webhook::status(&store).await?;
            let env_secret = std::env::var(webhook::SECRET_ENV)
                .ok()
                .is_some_and(|s| !s.is_empty());
            if json {
                println!(
                    "{}",
                    serde_json::json!({"pending_token": w.pending_token,
                        "pending_since_ms": w.pending_since_ms, "confirmed": w.confirmed,
                        "secret_from_env": env_secret})
                );
                return Ok(());
            }
            if env_secret {
                println!(
                    "NOTION_WEBHOOK_SECRET is set: it checks signatures, and handshakes are not stored"
                );
            } else if w.confirmed {
                println!("a webhook verification token is confirmed: signed events are accepted");
            } else {
                println!("no webhook verification token is confirmed: events are refused");
            }
            match w.pending_token {
                Some(t) => println!(
                    "pending (received {}): {t}\npaste it into the integration's Webhooks tab; once Notion accepts it, run: reviewdesk notion webhook confirm {t}",
                    w.pending_since_ms
                        .and_then(chrono::DateTime::from_timestamp_millis)
                        .map_or_else(|| "at an unknown time".into(), |t| t.to_rfc3339())
                ),
                None => println!("no handshake is waiting for confirmation"),
            }
        }
        WebhookCommand::Confirm { token } => {
            webhook::confirm_pending(&store, &token).await?;
            tracing::warn!(
                "Notion webhook: the pending verification token was confirmed by the CLI"
            );
            if json {
                println!("{}", serde_json::json!({"confirmed": true}));
            } else {
                println!("confirmed: events signed with this token are accepted from now on");
            }
        }
        WebhookCommand::Reset => {
            let had = webhook::reset_trusted_token(&store).await?;
            tracing::warn!("Notion webhook: the verification tokens were reset by the CLI");
            if json {
                println!("{}", serde_json::json!({"reset": had}));
            } else if had {
                println!(
                    "forgot the webhook verification tokens; have Notion send the handshake again, then confirm it"
                );
            } else {
                println!("no webhook verification token was stored");
            }
        }
    }
    Ok(())
}
