-- The Notion mirror's tables (reviewdesk-sync). Until this migration the mirror created them
-- itself at start-up (`SyncStore::migrate`, `CREATE TABLE IF NOT EXISTS`); from here on these
-- migrations are the schema's one owner, and the mirror only reads and writes the tables.
--
-- `IF NOT EXISTS` on purpose: every database the mirror has run against already holds these
-- tables, with rows to keep (cursors, page ids, the outbox, the trusted webhook token). There
-- the statements change nothing; on a database the mirror never opened they create the tables.
-- The definitions are exactly those the mirror used, so both kinds of database end up alike.
-- Times are epoch milliseconds (BIGINT), flags 0/1, as in the core's tables.

-- Named cursors, e.g. how far the event log has been taken into the outbox.
CREATE TABLE IF NOT EXISTS sync_cursor (name TEXT PRIMARY KEY, value BIGINT NOT NULL, updated_at BIGINT NOT NULL);

-- The Notion page of each mirrored task or asset (page_id NULL while a create is in flight).
CREATE TABLE IF NOT EXISTS sync_pages (asset_key TEXT PRIMARY KEY, task_id TEXT NOT NULL, page_id TEXT, created_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS sync_pages_task ON sync_pages (task_id);

-- What the mirror remembers of a task: the Status last written, the Notion change last acted on.
CREATE TABLE IF NOT EXISTS sync_outbox_state (task_id TEXT PRIMARY KEY, pushed_status TEXT, pushed_at BIGINT, handled_status TEXT, handled_edit TEXT);

-- Webhook deliveries already seen (deduplication).
CREATE TABLE IF NOT EXISTS sync_webhook_events (event_id TEXT PRIMARY KEY, received_at BIGINT NOT NULL);

-- The mirror's settings (e.g. the webhook verification token, pending or trusted).
CREATE TABLE IF NOT EXISTS sync_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);

-- One row per event of the log taken in by the out side: `pending` until handled (`done`) or
-- discarded. The oldest pending row of a task is its head; only the head carries attempts.
CREATE TABLE IF NOT EXISTS sync_outbox (event_id BIGINT PRIMARY KEY, task_id TEXT NOT NULL, created_at BIGINT NOT NULL,
    state TEXT NOT NULL, attempts BIGINT NOT NULL, next_attempt_at BIGINT NOT NULL, last_error TEXT, done_at BIGINT);
CREATE INDEX IF NOT EXISTS sync_outbox_by_task ON sync_outbox (task_id, state, event_id);
CREATE INDEX IF NOT EXISTS sync_outbox_by_state ON sync_outbox (state, event_id);

-- Notion pages whose change could not be applied (the poll moved on): one row per page, until a
-- later edit of the page is applied. `fingerprint` is what was refused, so a re-read of the same
-- change within the poll margin is not refused (and written to Notion) again.
CREATE TABLE IF NOT EXISTS sync_refused_pages (page_id TEXT PRIMARY KEY, title TEXT NOT NULL, notion_status TEXT NOT NULL,
    reason TEXT NOT NULL, error_log_written BIGINT NOT NULL, fingerprint TEXT NOT NULL, refused_at BIGINT NOT NULL);

-- Events the creator chose to drop, kept as an audit trail (never pruned).
CREATE TABLE IF NOT EXISTS sync_discarded (event_id BIGINT PRIMARY KEY, task_id TEXT NOT NULL, kind TEXT NOT NULL,
    attempts BIGINT NOT NULL, last_error TEXT, reason TEXT NOT NULL, discarded_by TEXT NOT NULL, discarded_at BIGINT NOT NULL);
