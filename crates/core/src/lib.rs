//! Review Desk core.
