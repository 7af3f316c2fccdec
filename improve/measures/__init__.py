"""Monthly measures of a service and their run charts."""
