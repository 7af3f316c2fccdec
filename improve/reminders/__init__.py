"""Reminders: what is due (rules), the outbox that sends each message once, and in-app
notifications."""
