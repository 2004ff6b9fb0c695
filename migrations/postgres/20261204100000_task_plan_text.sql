-- A task's custom asset plan, as text (the client sends it; the server never reads a path for it).
ALTER TABLE tasks ADD COLUMN plan TEXT;
