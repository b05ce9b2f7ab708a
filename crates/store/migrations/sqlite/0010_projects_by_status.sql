-- Projects by status: the embedded store answers Store::projects_with_status from its
-- in-memory project cache (sqlite/projects.rs), which keeps that index itself. This
-- migration keeps the two backends' version lists in step.
SELECT 1;
