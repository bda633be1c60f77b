-- The role each player plays in a match of a role queue (issue 19); NULL elsewhere.
ALTER TABLE match_players ADD COLUMN role TEXT;
