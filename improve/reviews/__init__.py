"""Progress reviews: internal (manager with the quality lead) and with commissioners."""
