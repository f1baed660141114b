"""Contests: rules, entries, a verifiable winner draw, claims and the published result."""
