//! A faithful in-memory Notion API test double.
