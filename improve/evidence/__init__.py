"""Evidence on actions and findings: text, links and files (checked by content)."""
