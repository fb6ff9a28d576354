"""Render engines driven by aefarm; After Effects is the first."""
