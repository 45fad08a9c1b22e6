"""Scheduled jobs (phase reminders, weekly digests, poll deadlines): they arrive with campaigns."""
