"""The JSON API under /api/v1: the same domain functions the pages call."""
