-- The board's exact counts (tasks per status and channel, over the whole desk) are read from this
-- index alone: with thousands of finished tasks the count no longer visits every task's row.
CREATE INDEX tasks_by_status_channel ON tasks (status, channel_id);
