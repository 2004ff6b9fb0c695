-- A scene item (clip, narration, effect, final video) has versions like an asset: a regenerated
-- item keeps its earlier file under versions/, and the checkpoint says which version is current.
-- A note carries what the reviewer should know about the item (a narration longer than its clip).
ALTER TABLE step_checkpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE step_checkpoints ADD COLUMN note TEXT;
