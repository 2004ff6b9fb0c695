//! "Ready for review" notifications: one native notification whenever a task enters a review
//! gate. The headline comes with the event (built once, in core); the body is the desktop's own.

/// What the notification says under the headline: where to go from here.
pub const BODY: &str = "Open it from the tray: A approves, F flags, R rejects with feedback.";
