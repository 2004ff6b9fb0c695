-- What paid generators cost. The ledger is append-only: one row per paid call, with the price
-- that was used (prices change; a past row keeps what it cost then). Amounts are whole
-- micro-dollars, so sums are exact.
CREATE TABLE cost_ledger (
    id               TEXT PRIMARY KEY,
    at_ms            INTEGER NOT NULL,
    channel_id       TEXT NOT NULL,
    task_id          TEXT NOT NULL,
    step             TEXT NOT NULL,
    item             TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    provider         TEXT NOT NULL,
    model            TEXT NOT NULL,
    units            INTEGER NOT NULL,
    unit             TEXT NOT NULL,
    unit_price_micro INTEGER NOT NULL,
    usd_micro        INTEGER NOT NULL,
    correlation_id   TEXT
);
CREATE INDEX cost_ledger_channel_at ON cost_ledger (channel_id, at_ms);
CREATE INDEX cost_ledger_task ON cost_ledger (task_id);
CREATE TRIGGER cost_ledger_no_update BEFORE UPDATE ON cost_ledger
BEGIN SELECT RAISE(ABORT, 'cost_ledger is append-only'); END;
CREATE TRIGGER cost_ledger_no_delete BEFORE DELETE ON cost_ledger
BEGIN SELECT RAISE(ABORT, 'cost_ledger is append-only'); END;

-- Money promised to a paid item that has started and not finished. The budget check counts
-- these with the ledger, so several workers together never start more than the budget allows.
-- One hold per item: a worker that resumes an item (after a crash) finds its hold again.
CREATE TABLE cost_holds (
    task_id    TEXT NOT NULL,
    step       TEXT NOT NULL,
    item       TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    usd_micro  INTEGER NOT NULL,
    at_ms      INTEGER NOT NULL,
    PRIMARY KEY (task_id, step, item)
);

-- A provider's job for an item (a Kling clip takes minutes): written before the first poll, so a
-- worker that was stopped while polling resumes the same job instead of paying for a new one.
CREATE TABLE provider_jobs (
    task_id    TEXT NOT NULL,
    step       TEXT NOT NULL,
    item       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    provider   TEXT NOT NULL,
    job_id     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, step, item, version)
);
