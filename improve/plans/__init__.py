"""Action plans built from playbooks modelled on the five Driving Improvement themes."""
