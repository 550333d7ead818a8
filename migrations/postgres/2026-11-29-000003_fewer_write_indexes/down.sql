CREATE INDEX inbox_settled ON inbox (settled_at) WHERE state IN ('done', 'dead');
CREATE INDEX task_effects_created ON task_effects (created_at);
CREATE INDEX tasks_open_by_owner ON tasks (owner, number) WHERE done = 0;
