"""Scheduled jobs (reminders, digests). Registered in code; see the reminders issue."""
