//! The tray: how many tasks wait for review, one entry per task (a click opens its gallery),
//! pause/resume, open, settings, quit. [`TrayModel`] is pure so its contents are unit-tested;
//! [`Tray`] turns it into the native menu.

use reviewdesk_core::{Task, TaskId};
use tauri::menu::{Menu, MenuBuilder, MenuItemBuilder};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Runtime};

/// Entries shown before "and N more…"; a tray menu longer than this is hard to scan.
pub const MAX_ENTRIES: usize = 10;

/// One waiting task in the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayEntry {
    /// The task to open.
    pub task_id: TaskId,
    /// "Title — Assets Ready".
    pub label: String,
}

/// What the tray shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayModel {
    /// Tasks waiting at a review gate.
    pub waiting: usize,
    /// Hover text.
    pub tooltip: String,
    /// The menu's first line.
    pub headline: String,
    /// Oldest first, at most [`MAX_ENTRIES`].
    pub entries: Vec<TrayEntry>,
    /// Waiting tasks not listed.
    pub more: usize,
    /// Whether the worker is paused (the menu offers Resume instead of Pause).
    pub paused: bool,
}

impl TrayModel {
    /// The tray for these waiting tasks (oldest first) and worker state.
    pub fn new(waiting: &[Task], paused: bool) -> TrayModel {
        let n = waiting.len();
        let headline = match n {
            0 => "Nothing waits for review".to_string(),
            1 => "1 task waits for review".to_string(),
            n => format!("{n} tasks wait for review"),
        };
        let mut tooltip = format!("Review Desk — {}", headline.to_lowercase());
        if paused {
            tooltip.push_str(" (worker paused)");
        }
        let entries = waiting
            .iter()
            .take(MAX_ENTRIES)
            .map(|t| TrayEntry {
                task_id: t.id,
                label: format!("{} — {}", shorten(&t.title, 48), t.status.board_name()),
            })
            .collect::<Vec<_>>();
        TrayModel {
            waiting: n,
            tooltip,
            headline,
            more: n - entries.len(),
            entries,
            paused,
        }
    }
}

fn shorten(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max - 1).collect();
    format!("{}…", cut.trim_end())
}

/// Menu item ids.
pub mod ids {
    /// Prefix of a task entry: `open-task:<uuid>`.
    pub const OPEN_TASK: &str = "open-task:";
    /// Show the window.
    pub const SHOW: &str = "show";
    /// Pause the worker.
    pub const PAUSE: &str = "pause";
    /// Resume the worker.
    pub const RESUME: &str = "resume";
    /// Open Settings.
    pub const SETTINGS: &str = "settings";
    /// Quit the app.
    pub const QUIT: &str = "quit";
}

/// The native tray icon.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    shown: std::sync::Mutex<Option<TrayModel>>,
}

impl<R: Runtime> Tray<R> {
    /// Creates the tray icon with an empty model.
    pub fn create(app: &AppHandle<R>) -> tauri::Result<Tray<R>> {
        let model = TrayModel::new(&[], false);
        let icon = TrayIconBuilder::with_id("main")
            .icon(tauri::include_image!("../icons/tray.png"))
            .tooltip(&model.tooltip)
            .menu(&menu(app, &model)?)
            // Linux trays have no click events; elsewhere a left click opens the window.
            .show_menu_on_left_click(false)
            .build(app)?;
        Ok(Tray {
            icon,
            shown: std::sync::Mutex::new(Some(model)),
        })
    }

    /// Shows a new model; rebuilding the menu only when something changed.
    pub fn show(&self, app: &AppHandle<R>, model: TrayModel) -> tauri::Result<()> {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        if shown.as_ref() == Some(&model) {
            return Ok(());
        }
        self.icon.set_tooltip(Some(&model.tooltip))?;
        self.icon.set_menu(Some(menu(app, &model)?))?;
        *shown = Some(model);
        Ok(())
    }
}

fn menu<R: Runtime>(app: &AppHandle<R>, model: &TrayModel) -> tauri::Result<Menu<R>> {
    let mut b = MenuBuilder::new(app).item(
        &MenuItemBuilder::with_id("headline", &model.headline)
            .enabled(false)
            .build(app)?,
    );
    for e in &model.entries {
        b = b.item(
            &MenuItemBuilder::with_id(format!("{}{}", ids::OPEN_TASK, e.task_id), &e.label)
                .build(app)?,
        );
    }
    if model.more > 0 {
        b = b.item(
            &MenuItemBuilder::with_id(ids::SHOW, format!("and {} more…", model.more)).build(app)?,
        );
    }
    b = b.separator();
    b = if model.paused {
        b.text(ids::RESUME, "Resume worker")
    } else {
        b.text(ids::PAUSE, "Pause worker")
    };
    b.text(ids::SHOW, "Open Review Desk")
        .text(ids::SETTINGS, "Settings…")
        .separator()
        .text(ids::QUIT, "Quit Review Desk")
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reviewdesk_core::Status;

    fn task(title: &str, status: Status) -> Task {
        Task {
            correlation_id: String::new(),
            ..Task::new("demo".parse().unwrap(), title, status, chrono::Utc::now())
        }
    }

    #[test]
    fn counts_and_lists_waiting_tasks_oldest_first() {
        let tasks = [
            task("Deep sea", Status::AssetsReady),
            task("Volcanoes", Status::VideoReady),
        ];
        let m = TrayModel::new(&tasks, false);
        assert_eq!(m.waiting, 2);
        assert_eq!(m.headline, "2 tasks wait for review");
        assert_eq!(m.tooltip, "Review Desk — 2 tasks wait for review");
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.entries[0].task_id, tasks[0].id);
        assert_eq!(m.entries[0].label, "Deep sea — Assets Ready");
        assert_eq!(m.entries[1].label, "Volcanoes — Videos Ready");
        assert_eq!(m.more, 0);
    }

    #[test]
    fn empty_and_singular_and_paused() {
        let m = TrayModel::new(&[], true);
        assert_eq!(m.waiting, 0);
        assert_eq!(m.headline, "Nothing waits for review");
        assert!(m.entries.is_empty());
        assert!(m.tooltip.ends_with("(worker paused)"), "{}", m.tooltip);
        let one = TrayModel::new(&[task("A", Status::AssetsReady)], false);
        assert_eq!(one.headline, "1 task waits for review");
    }

    #[test]
    fn long_lists_are_capped_and_long_titles_shortened() {
        let long = "A very long video title about the secret lives of deep sea creatures at night";
        let tasks: Vec<Task> = (0..13).map(|_| task(long, Status::AssetsReady)).collect();
        let m = TrayModel::new(&tasks, false);
        assert_eq!(m.entries.len(), MAX_ENTRIES);
        assert_eq!(m.more, 3);
        let label = &m.entries[0].label;
        assert!(
            label.contains('…') && label.ends_with("— Assets Ready"),
            "{label}"
        );
        assert!(label.chars().count() < long.chars().count());
    }

    #[test]
    fn a_change_of_worker_state_or_tasks_is_a_different_model() {
        let tasks = [task("A", Status::AssetsReady)];
        assert_ne!(TrayModel::new(&tasks, false), TrayModel::new(&tasks, true));
        assert_ne!(TrayModel::new(&tasks, false), TrayModel::new(&[], false));
        assert_eq!(TrayModel::new(&tasks, false), TrayModel::new(&tasks, false));
    }
}
