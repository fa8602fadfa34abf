"""The server's database: schema, engine set-up and migrations."""
