-- Wakes idle workers on every machine when a task becomes claimable (LISTEN reviewdesk_work).
-- Notifications are sent at commit, and PostgreSQL folds identical ones of one transaction into
-- one, so a bulk approval of 100 tasks wakes each listener once. Expired leases send nothing:
-- workers also wake at the earliest lease expiry or retry time, and poll as a fallback.

CREATE FUNCTION notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('reviewdesk_work', '');
    RETURN NULL;
END;
$$;

-- A new task that a worker may pick up.
CREATE TRIGGER tasks_notify_insert AFTER INSERT ON tasks FOR EACH ROW
    WHEN (NEW.lease_owner IS NULL AND NEW.status IN ('queued', 'assets_approved', 'video_approved', 'audio_approved', 'approved'))
    EXECUTE FUNCTION notify_work();

-- A task moved into a claimable status (decision, retry, re-run), or a lease was given back
-- (which may also free a slot of its channel's max_concurrent for another task).
CREATE TRIGGER tasks_notify_update AFTER UPDATE ON tasks FOR EACH ROW
    WHEN ((OLD.lease_owner IS NOT NULL AND NEW.lease_owner IS NULL)
          OR (NEW.lease_owner IS NULL AND OLD.status IS DISTINCT FROM NEW.status
              AND NEW.status IN ('queued', 'assets_approved', 'video_approved', 'audio_approved', 'approved')))
    EXECUTE FUNCTION notify_work();

-- Claims: candidates in urgency order, and the few tasks holding a lease (full channels).
CREATE INDEX tasks_claim_order ON tasks (priority_rank, created_at);
CREATE INDEX tasks_leased ON tasks (lease_expires_at, channel_id) WHERE lease_expires_at IS NOT NULL;
