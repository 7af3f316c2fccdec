"""Organisations, people, logins, sessions and API tokens."""
