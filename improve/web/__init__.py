"""What the two faces (pages and JSON API) share: auth, errors, templates, headers."""
