"""The editorial plan: calendar slots generated from the editorial rules, filled with content."""
