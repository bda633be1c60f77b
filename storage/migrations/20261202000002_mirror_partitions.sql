-- The mirror writes each batch in partitions, one connection and one transaction each (issue
-- 20): one high-water mark per partition, ids 1 to the number of partitions, always a complete
-- set. -1 is "nothing applied yet".
ALTER TABLE mirror_state DROP CONSTRAINT mirror_state_id_check;
ALTER TABLE mirror_state ADD CONSTRAINT mirror_state_id_check CHECK (id >= 1);
