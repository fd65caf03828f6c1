"""How `openledger factory train` shows a job's progress: a bar from the job's events.

Rendering is pure (`Progress.update`, `render_bar`, `render_line`, `format_eta`) so it is tested
without a terminal; `ProgressDisplay` only decides how lines reach the stream: on a terminal
the bar is redrawn in place with ``\\r`` (messages print above it), elsewhere (a log file, CI)
every update is one line, so nothing depends on cursor control a file cannot do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TextIO

BAR_WIDTH = 24
CLEAR_LINE = "\r\x1b[K"


@dataclass(frozen=True)
class Progress:
    """Where a job stands, as its events last said."""

    step: int = 0
    total_steps: int | None = None
    epoch: int | None = None
    train_loss: float | None = None
    eval_loss: float | None = None
    eta_seconds: float | None = None

    def update(self, data: dict[str, Any]) -> Progress:
        """The progress after an event's ``data`` (fields it lacks or leaves null stay)."""
        fields = ("step", "total_steps", "epoch", "train_loss", "eval_loss", "eta_seconds")
        changes = {name: data[name] for name in fields if data.get(name) is not None}
        return replace(self, **changes)


def format_eta(seconds: float | None) -> str:
    """``1:02:03`` or ``2:03``; ``?`` before the trainer can estimate."""
    if seconds is None:
        return "?"
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _figures(progress: Progress) -> str:
    total = progress.total_steps
    parts = [f"step {progress.step}/{total if total is not None else '?'}"]
    if total:
        parts.append(f"{100 * progress.step // total:3d}%")
    if progress.train_loss is not None:
        parts.append(f"loss {progress.train_loss:.4f}")
    if progress.eval_loss is not None:
        parts.append(f"eval loss {progress.eval_loss:.4f}")
    parts.append(f"ETA {format_eta(progress.eta_seconds)}")
    return "  ".join(parts)


def render_bar(progress: Progress, width: int = BAR_WIDTH) -> str:
    """``[#########---------------] step 9/24   37%  loss 2.1043  ETA 0:12`` for a terminal."""
    total = progress.total_steps or 0
    filled = min(width, width * progress.step // total) if total else 0
    return f"[{'#' * filled}{'-' * (width - filled)}] {_figures(progress)}"


def render_line(progress: Progress) -> str:
    """The same figures without the bar: one line of a log."""
    return _figures(progress)


def has_progress(data: dict[str, Any] | None) -> bool:
    """Whether an event's data moves the bar (step, evaluation and checkpoint events do)."""
    return bool(data) and data.get("step") is not None


class ProgressDisplay:
    """Writes a job's events to `stream` (see the module docstring for the two modes)."""

    def __init__(self, stream: TextIO, *, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self.progress = Progress()
        self._bar_shown = False

    def event(self, event: dict[str, Any]) -> None:
        """Show one event of the jobs API (oldest first): metrics move the bar, messages print."""
        data = event.get("data")
        if event.get("type") == "metrics" and has_progress(data):
            self.progress = self.progress.update(data or {})
            self._draw()
            return
        if has_progress(data):  # e.g. a checkpoint: the position is news, the line too
            self.progress = self.progress.update(data or {})
        self.message(str(event.get("message", "")))

    def message(self, text: str) -> None:
        """A line of its own, above the bar on a terminal."""
        if self.tty and self._bar_shown:
            self.stream.write(CLEAR_LINE + text + "\n" + render_bar(self.progress))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line, so what follows starts on a fresh one."""
        if self.tty and self._bar_shown:
            self.stream.write("\n")
            self.stream.flush()
            self._bar_shown = False

    def _draw(self) -> None:
        if self.tty:
            self.stream.write(CLEAR_LINE + render_bar(self.progress))
            self._bar_shown = True
        else:
            self.stream.write(render_line(self.progress) + "\n")
        self.stream.flush()
