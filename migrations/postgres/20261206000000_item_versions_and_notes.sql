-- A scene item (clip, narration, effect, final video) has versions like an asset: a regenerated
-- item keeps its earlier file under versions/, and the checkpoint says which version is current.
-- A note carries what the reviewer should know about the item (a narration longer than its clip).
ALTER TABLE step_checkpoints ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE step_checkpoints ADD COLUMN note TEXT;

-- The creator's edits of the scene plan (narration lines, motion prompts, sound descriptions),
-- over what the plan file gives or the derivation makes; NULL keeps that text.
CREATE TABLE scene_edits (
    task_id    TEXT NOT NULL,
    scene      BIGINT NOT NULL,
    narration  TEXT,
    motion     TEXT,
    sfx        TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, scene)
);
