-- Nothing to do on PostgreSQL: its tables are heaps with separate indexes already. The
-- SQLite migration of the same number turns the document table into a rowid table; the
-- two backends keep one list of versions.
SELECT 1;
