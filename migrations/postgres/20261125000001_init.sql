-- Review Desk schema (PostgreSQL). Times are Unix epoch milliseconds (UTC).

CREATE TABLE tasks (
    id                  TEXT PRIMARY KEY NOT NULL,
    channel_id          TEXT NOT NULL,
    title               TEXT NOT NULL,
    topic               TEXT NOT NULL DEFAULT '',
    story_direction     TEXT NOT NULL DEFAULT '',
    priority            TEXT NOT NULL DEFAULT 'normal',
    priority_rank       BIGINT NOT NULL DEFAULT 1,
    status              TEXT NOT NULL,
    status_changed_at   BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    notion_page_id      TEXT UNIQUE,
    review_started_at   BIGINT,
    review_completed_at BIGINT,
    error_log           TEXT NOT NULL DEFAULT '',
    attempts            BIGINT NOT NULL DEFAULT 0,
    next_retry_at       BIGINT,
    error_category      TEXT,
    correlation_id      TEXT NOT NULL,
    plan_file           TEXT,
    lease_owner         TEXT,
    lease_expires_at    BIGINT
);
CREATE INDEX tasks_by_status ON tasks (status, priority_rank, created_at);
CREATE INDEX tasks_by_channel ON tasks (channel_id, lease_expires_at);

CREATE TABLE channels (
    channel_id     TEXT PRIMARY KEY NOT NULL,
    max_concurrent BIGINT NOT NULL,
    is_active      BIGINT NOT NULL
);

CREATE TABLE assets (
    task_id         TEXT NOT NULL REFERENCES tasks (id),
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    prompt          TEXT NOT NULL,
    position        BIGINT NOT NULL,
    current_version BIGINT NOT NULL DEFAULT 0,
    review_state    TEXT NOT NULL DEFAULT 'pending',
    flagged         BIGINT NOT NULL DEFAULT 0,
    flag_note       TEXT,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (task_id, name)
);

CREATE TABLE asset_versions (
    task_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    thumb_path   TEXT,
    width        BIGINT NOT NULL,
    height       BIGINT NOT NULL,
    bytes        BIGINT NOT NULL,
    source       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (task_id, name, version),
    FOREIGN KEY (task_id, name) REFERENCES assets (task_id, name)
);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

-- Append-only log of everything that happened to a task; the Notion mirror's outbox.
CREATE TABLE task_events (
    id             BIGSERIAL PRIMARY KEY,
    task_id        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    from_status    TEXT,
    to_status      TEXT,
    source         TEXT NOT NULL,
    payload        TEXT NOT NULL DEFAULT '{}',
    correlation_id TEXT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX task_events_by_task ON task_events (task_id, id);
CREATE TRIGGER task_events_no_update BEFORE UPDATE ON task_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER task_events_no_delete BEFORE DELETE ON task_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Every decision from any place; kept for two years, never changed by the app.
CREATE TABLE review_audit (
    id               BIGSERIAL PRIMARY KEY,
    task_id          TEXT NOT NULL,
    gate             TEXT NOT NULL,
    decision         TEXT NOT NULL,
    resulting_status TEXT NOT NULL,
    reviewer_id      TEXT,
    reviewer_name    TEXT,
    reviewer_email   TEXT,
    source           TEXT NOT NULL,
    reason           TEXT,
    flagged          TEXT NOT NULL DEFAULT '[]',
    correlation_id   TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX review_audit_by_task ON review_audit (task_id, id);
CREATE TRIGGER review_audit_no_update BEFORE UPDATE ON review_audit
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER review_audit_no_delete BEFORE DELETE ON review_audit
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- One row per finished item of a step: a resumed task skips these.
CREATE TABLE step_checkpoints (
    task_id      TEXT NOT NULL,
    step         TEXT NOT NULL,
    item         TEXT NOT NULL,
    output       TEXT NOT NULL,
    completed_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, step, item)
);

-- One row per finished step.
CREATE TABLE step_completions (
    task_id      TEXT NOT NULL,
    step         TEXT NOT NULL,
    completed_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, step)
);

