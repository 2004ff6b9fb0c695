//! "Assets ready" notifications: one native notification whenever a task enters a review gate.

use reviewdesk_core::Status;

/// The notification for a task that entered `gate`: (title, body).
pub fn review_ready_text(gate: Status, title: &str, items: u32) -> (String, String) {
    let (what, unit) = match gate {
        Status::AssetsReady => ("Assets ready", "images"),
        Status::VideoReady => ("Video ready", "clips"),
        Status::AudioReady => ("Audio ready", "tracks"),
        _ => ("Final review", "files"),
    };
    let unit = if items == 1 {
        unit.trim_end_matches('s')
    } else {
        unit
    };
    (
        format!("{what} — {title} ({items} {unit})"),
        "Open it from the tray: A approves, F flags, R rejects with feedback.".to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_gate_the_task_and_the_count() {
        let (title, body) = review_ready_text(Status::AssetsReady, "Deep sea", 22);
        assert_eq!(title, "Assets ready — Deep sea (22 images)");
        assert!(body.contains("approves"));
        assert_eq!(
            review_ready_text(Status::VideoReady, "X", 1).0,
            "Video ready — X (1 clip)"
        );
    }
}
