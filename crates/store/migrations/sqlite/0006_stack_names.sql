-- By-name stack lookups (every DescribeStacks/CreateStack by name) read one row through
-- an index instead of parsing every stack document: the name and whether the stack is
-- live (not DELETE_COMPLETE) are kept beside the document by every put_stack.
ALTER TABLE cfn_stacks ADD COLUMN stack_name TEXT NOT NULL DEFAULT '';
ALTER TABLE cfn_stacks ADD COLUMN live INTEGER NOT NULL DEFAULT 1;
UPDATE cfn_stacks SET
    stack_name = json_extract(document, '$.stack_name'),
    live = CASE WHEN json_extract(document, '$.status') = 'DELETE_COMPLETE' THEN 0 ELSE 1 END;
CREATE INDEX cfn_stacks_by_live_name ON cfn_stacks (stack_name, live, ord);
