-- Version 14: merge and split (casectl merge, casectl split).
--
-- `merge ID INTO` sets ID's merged_into, as the joining of a thread split
-- by arrival order always has; `split ID MSG...` opens a case for some of
-- ID's messages and records here where they came from. A reply naming
-- messages of both parts goes to the part split off: the analyst decided
-- that its conversation is a case of its own (cases/routing.cpp).
ALTER TABLE cases ADD COLUMN split_from INTEGER REFERENCES cases(id);
