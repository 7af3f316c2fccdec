"""Improvement cases: one service's journey from an Inadequate rating, with its findings,
deadlines, stages and history."""
