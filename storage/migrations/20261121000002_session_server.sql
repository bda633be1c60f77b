-- Where each session is played: the game server's address from the allocator (issue 4).
ALTER TABLE sessions ADD COLUMN server_address TEXT;
