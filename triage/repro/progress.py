"""What a reproducer tells its caller while it runs: one side started, time passing, the side
done. The CLI draws a progress bar from it; the engine and the tests pass the silent one."""

from __future__ import annotations

from typing import Protocol


class ReproProgress(Protocol):
    def side_started(self, index: int, total: int, profile: str, duration_s: float) -> None: ...
    def tick(self, elapsed_s: float) -> None: ...
    def side_done(self) -> None: ...


class SilentReproProgress:
    def side_started(self, index: int, total: int, profile: str, duration_s: float) -> None: pass
    def tick(self, elapsed_s: float) -> None: pass
    def side_done(self) -> None: pass
