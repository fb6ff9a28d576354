"""How a template job speaks progress protocols whose unit is not a frame (accsyn: an item is a row)."""
from __future__ import annotations

from stmpo.progress import AccsynReporter, accsyn_frame_line


class RowsAccsynReporter(AccsynReporter):
    """accsyn's protocol for a template job: an item is a row, so a frame is not an item (nothing is said per
    frame); a delivered (or already delivered) variant reports its row done:
    ``{"taskstatus": true, "uri": "<row>", "status": "done"}``."""

    def _show_frame_done(self, frame: int) -> None:
        pass

    def row_done(self, row: int) -> None:
        with self._lock:
            self.writer.line(accsyn_frame_line(row))
