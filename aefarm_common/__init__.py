"""Leaf utilities every aefarm package may use: errors and exit codes, atomic writes, OS names, JSON files, per-user
folders.

Layering (enforced by tests/test_layering.py): ``engines`` -> ``stmpo`` / ``remap`` / ``fonts`` -> ``aefarm_common``.
Nothing here imports another aefarm package.
"""
