"""Fault tolerance (issue 13, point 5): crashes, a database gone, failing plugins, fuzz."""
