-- 6: who made each transition: the operator of the migrate command, as
-- its audit commits name them ("Name <email>"), NULL before
ALTER TABLE transitions ADD COLUMN operator TEXT;
