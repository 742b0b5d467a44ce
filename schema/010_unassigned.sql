-- Version 10: "nobody" is NULL. Before `assign ID --none` existed,
-- `assign ID ""` stored an empty name, which the digest and
-- `list --unassigned` do not count as unassigned; such cases become
-- unassigned again.
UPDATE cases SET assignee = NULL WHERE assignee = '';
