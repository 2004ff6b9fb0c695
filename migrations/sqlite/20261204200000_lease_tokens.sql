-- Leases belong to one claim, not to a worker: every claim gets a fresh token, and every write a
-- worker makes for the task (heartbeat, checkpoint, step completion, status change, retry,
-- release) must present it. All slots of one worker share its owner id, so after cancel → retry →
-- re-claim by another slot the owner alone cannot tell the stale run from the new one.
ALTER TABLE tasks ADD COLUMN lease_token TEXT;
