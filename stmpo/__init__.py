"""STMPO, the single-task multi-process orchestrator: one task fans out into many parallel aerender children."""
