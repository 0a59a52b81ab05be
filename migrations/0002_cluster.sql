-- Cluster membership: where a node's middleman listens, and when a peer
-- declared it down (its leases were released then).
ALTER TABLE nodes ADD COLUMN advertise text;
ALTER TABLE nodes ADD COLUMN down_at timestamptz;
