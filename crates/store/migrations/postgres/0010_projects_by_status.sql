-- Projects by status (Store::projects_with_status: what takeover and restart recovery
-- look for, the projects with an operation in flight), without reading every document.
CREATE INDEX projects_by_status ON projects ((document->>'ProjectStatus'));
