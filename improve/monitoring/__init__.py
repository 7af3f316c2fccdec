"""What commissioners do: monitoring levels, visits and their findings."""
