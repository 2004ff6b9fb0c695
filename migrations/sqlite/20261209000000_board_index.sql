-- The board's finished columns read the latest tasks of one status, newest first, page by page
-- (keyset on status time and id): one range scan of this index however deep the page.
CREATE INDEX tasks_by_status_recent ON tasks (status, status_changed_at, id);
