"""Recordings whose processing failed where even saying so failed: kept here and settled later, so none stays
"processing" and the processing queue never dies.

A full disk is not the recording's fault: one it stopped is made "received" again and processed once the disk has
room above ``[server] disk_reserve_mb`` (unless samples of it were already stored: it is then "failed" with the
reason, its samples kept, so nothing is cut twice). Any other failure marks it "failed"; when the library cannot
even record that (its disk is full too), it is recorded once it can.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..diskspace import DiskSpace
from ..records import RecordingStatus

if TYPE_CHECKING:
    from ..pipeline import Intake, Pipeline

log = logging.getLogger(__name__)

#: Seconds between two looks at the disk while recordings wait for room.
RETRY_S = 2.0
#: What a participant reads for a recording the disk filled up in the middle of.
CUT_SHORT = "the show's disk filled up while this sound was processed; the samples cut before that are kept"


class Stranded:
    """The recordings :meth:`failed` took in, until :meth:`settle` has put each where it belongs.

    ``requeue``: hands a recording made "received" again back to the processing queue (on the loop).
    """

    def __init__(self, pipeline: Pipeline, disk: DiskSpace, requeue: Callable[[Intake], None]) -> None:
        self.pipeline, self.disk, self.requeue = pipeline, disk, requeue
        self.waiting: dict[int, tuple[Intake, str | None]] = {}  # by recording id: (intake, failure or None: disk)
        self._task: asyncio.Task[None] | None = None

    def failed(self, intake: Intake, exc: Exception) -> None:
        """Processing ``intake`` raised ``exc``: mark it "failed", or keep it for later (on the loop)."""
        rec_id = intake.recording.id
        error = None if self.disk.explains(exc) else f"processing failed: {exc}"
        if error is None:
            log.warning("recording %d waits for disk space (%s)", rec_id, exc)
        else:
            log.error("processing recording %d failed", rec_id, exc_info=exc)
            try:
                self.pipeline.library.set_recording_status(rec_id, RecordingStatus.FAILED, error)
                return
            except Exception as again:
                log.warning("recording %d: its failure could not be recorded yet (%s)", rec_id, again)
        self.waiting[rec_id] = (intake, error)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._retry())

    async def _retry(self) -> None:
        while self.waiting and not self.pipeline.closed:
            await asyncio.sleep(RETRY_S)
            if self.disk.room_for(0):
                self.settle()

    def settle(self) -> None:
        """Put every waiting recording where it belongs now; those the disk still refuses keep waiting."""
        library = self.pipeline.library
        for rec_id, (intake, error) in list(self.waiting.items()):
            try:
                if error is not None:
                    library.set_recording_status(rec_id, RecordingStatus.FAILED, error)
                elif library.samples(recording_id=rec_id, limit=1):
                    library.set_recording_status(rec_id, RecordingStatus.FAILED, CUT_SHORT)
                else:
                    library.release(rec_id)
                    del self.waiting[rec_id]
                    self.requeue(intake)
                    continue
            except Exception as exc:
                if not self.disk.explains(exc):
                    log.warning("recording %d is still waiting: %s", rec_id, exc)
                return
            del self.waiting[rec_id]
