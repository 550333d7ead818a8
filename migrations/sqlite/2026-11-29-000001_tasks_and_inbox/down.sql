DROP TABLE task_effects;
DROP TABLE inbox;
DROP TABLE tasks;
DROP TABLE task_counters;
