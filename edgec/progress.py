"""Progress of long work (build, fine-tuning, calibration, csim, cosim, synth) on stderr.

On a terminal, rich shows the step running now with a spinner and its elapsed time, and
keeps each finished step as a line with the seconds it took. Anywhere else (a pipe, a log
file, CI) each step is one plain ``edgec: ...`` line, as it starts. Quiet: nothing. The
work itself reports through a plain callable taking one message, so library callers pass
their own (or None) and never see rich.
"""
from __future__ import annotations

import sys
import time


class Progress:
    """A callable taking one progress message; ``close()`` ends the live display."""

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self._live = None
        self._step, self._t0 = None, 0.0
        if not quiet and self.stream.isatty():
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False)
            self._live = self._console.status("", spinner="dots")
            self._live.start()

    def __call__(self, msg: str) -> None:
        if self.quiet:
            return
        if self._live is None:
            print(f"edgec: {msg}", file=self.stream, flush=True)
            return
        self._finish()
        self._step, self._t0 = msg, time.perf_counter()
        self._live.update(f"edgec: {_escape(msg)}")

    def counter(self, what: str, total: int):
        """A progress bar for ``total`` units of ``what``: returns ``advance(done)``, which
        shows ``done`` of them (on a terminal the live line, under the step running now;
        elsewhere one plain line per call)."""
        def advance(done: int) -> None:
            if self.quiet:
                return
            frac = done / max(total, 1)
            full = int(round(24 * frac))
            msg = f"{what} [{'#' * full}{'.' * (24 - full)}] {done:,}/{total:,} ({100 * frac:.0f}%)"
            if self._live is None:
                print(f"edgec: {msg}", file=self.stream, flush=True)
            else:
                self._live.update(f"edgec: {_escape(msg)}")

        return advance

    def _finish(self) -> None:
        if self._step is not None:
            self._console.print(f"edgec: {_escape(self._step)} [dim]({time.perf_counter() - self._t0:.1f} s)[/dim]")
            self._step = None

    def close(self) -> None:
        if self._live is not None:
            self._finish()
            self._live.stop()
            self._live = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _escape(msg: str) -> str:
    from rich.markup import escape

    return escape(msg)
