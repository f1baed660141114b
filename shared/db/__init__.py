"""Database kernel: engine, sessions, organisation scoping and per-service migrations."""
