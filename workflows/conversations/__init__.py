"""Workflows of the conversations inbox: sending replies, and first-response SLAs."""
