"""Persistence: SQLModel tables, the one place that opens sessions, queries and migrations."""
