"""Self-assessment against the quality statements and the projected rating."""
