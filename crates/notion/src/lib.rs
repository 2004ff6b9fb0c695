//! A typed client of the Notion REST API.
