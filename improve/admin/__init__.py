"""Administration pages: organisations, people, services and commissioner links."""
