"""Hold a reporter's messages until the request passed its checks (bad input writes nothing but its error).

The promise of every command: a request refused (exit 2, one line on stderr) writes nothing else, stdout included.
`aefarm render` announces things while it checks (its per-child logs folder, preflight warnings, the remap), so
those messages are held here and written, in order, once the executor starts the run (``run_started``: the request
was checked). A request refused before that ends with ``close()`` and its held messages are dropped.
"""
from __future__ import annotations

from typing import Any, List, Sequence, Tuple


class HeldMessages:
    """Wrap a RenderReporter (stmpo.seams): ``message`` is held until ``run_started`` or ``release()``; every other
    call goes straight to the wrapped reporter."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._held: List[Tuple[str, bool]] = []
        self._released = False

    def message(self, text: str, public: bool = False) -> None:
        if self._released:
            self.inner.message(text, public=public)
        else:
            self._held.append((text, public))

    def release(self) -> None:
        """The request passed its checks: write the held messages (in order) and stop holding."""
        if self._released:
            return
        self._released = True
        held, self._held = self._held, []
        for text, public in held:
            self.inner.message(text, public=public)

    def run_started(self, total_frames: int, plan_lines: Sequence[str]) -> None:
        self.release()
        self.inner.run_started(total_frames, plan_lines)

    def close(self) -> None:
        """Close the wrapped reporter; messages still held (the request was refused) are dropped."""
        self._held = []
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
