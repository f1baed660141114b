"""The built-in sandbox platform: a local simulation of a social network, never a real one."""
