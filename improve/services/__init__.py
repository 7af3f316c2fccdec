"""Care services (locations) and which commissioners they are linked to."""
