"""Render watch: the HTML report, the live report written during a run, and the read-only watch server."""
