-- Version 15: every new case's reporter is acknowledged, up to
-- ack.per_sender_per_day acknowledgements to one sender in 24 hours. The
-- count is taken from the outbox at each new case; this index keeps it to
-- the acknowledgements of the last day.
CREATE INDEX outbox_ack ON outbox(created) WHERE kind = 'ack';
