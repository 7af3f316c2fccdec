"""Portfolio views: commissioners and corporate quality teams across many services."""
