-- What the reviewer should see on an asset's tile: a version's own warning (its background could
-- not be removed), and why the last attempt to make the asset failed (the provider's safety
-- refusal, with its reason). A new version clears the failure.
ALTER TABLE asset_versions ADD COLUMN note TEXT;
ALTER TABLE assets ADD COLUMN failure TEXT;

-- What a task has cost so far, in micro-dollars: a running total of its cost_ledger rows, kept in
-- the transaction that appends each row, so the board shows it without summing the ledger.
ALTER TABLE tasks ADD COLUMN spent_micro INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET spent_micro = (SELECT COALESCE(SUM(usd_micro), 0) FROM cost_ledger WHERE cost_ledger.task_id = tasks.id);
