"""A crowd's recordings drained with every core: prepared side by side, finished one by one in arrival order.

Workers, one per core, each take the next item waiting and prepare it (for the chain: decode, trim, cut, pitch and
let the model hear a recording); one finisher thread then finishes each prepared item in the order it was
submitted (judge, label, store and send it), so the first recording in is the first on stage. (Measured with the
bundled model on 2 cores: one call of 4 pieces costs more per piece than 4 calls of one, its activations
outgrowing the caches, and two calls side by side drain pieces faster than one after another; so recordings are
heard side by side, not batched into one call.)
"""
from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from .runtime import cores

#: Items prepared ahead of the one being finished, at most: enough to keep every core busy, and a bound on the
#: audio held in memory (a 5-s recording at 44.1 kHz: ≈ 1 MB with its features).
PREPARED_AHEAD = 16

Item = TypeVar("Item")
Prepared = TypeVar("Prepared")
Result = TypeVar("Result")


@dataclass
class _Job(Generic[Item, Prepared, Result]):
    """An item in the queue: what the caller waits on, and its preparation once started."""

    item: Item
    done: Future[Result]
    prepared: Future[Prepared] | None = None


class InOrder(Generic[Item, Prepared, Result]):
    """A first-in, first-out queue whose items are prepared side by side and finished one at a time, in order.

    Parameters
    ----------
    prepare : runs on a worker thread, at most :data:`PREPARED_AHEAD` items ahead of the finisher. It must not
        raise: what goes wrong is kept in what it returns, for ``finish`` to raise.
    finish : runs on the one finisher thread, in submission order; what it returns or raises is the item's result.
    workers : items prepared side by side; None: one per core.
    """

    def __init__(self, prepare: Callable[[Item], Prepared], finish: Callable[[Prepared], Result],
                 workers: int | None = None) -> None:
        self._prepare, self._finish = prepare, finish
        # the jobs, the lock that guards them, the finisher that drains them in order, the workers that prepare them
        self._jobs: deque[_Job[Item, Prepared, Result]] = deque()
        self._lock = threading.Condition()
        self._finisher: threading.Thread | None = None
        self._workers = ThreadPoolExecutor(max_workers=workers or cores(), thread_name_prefix="exsampling-worker")
        self.closed = False

    def submit(self, item: Item) -> Future[Result]:
        """Queue ``item`` and return what it will become (its result, or the exception that failed it); raises
        RuntimeError once closed."""
        job: _Job[Item, Prepared, Result] = _Job(item, Future())
        with self._lock:
            if self.closed:
                raise RuntimeError("the pipeline is closed")
            self._jobs.append(job)
            self._prepare_ahead()
            if self._finisher is None:
                self._finisher = threading.Thread(target=self._drain, name="exsampling-finisher", daemon=True)
                self._finisher.start()
            self._lock.notify()
        return job.done

    def _prepare_ahead(self) -> None:
        """Start preparing the first :data:`PREPARED_AHEAD` queued items (the lock is held)."""
        for job in itertools.islice(self._jobs, PREPARED_AHEAD):
            if job.prepared is None:
                job.prepared = self._workers.submit(self._prepare, job.item)

    def _drain(self) -> None:
        """The finisher: take the items in the order they came, each once prepared, and finish them; until
        :meth:`close`, which leaves the rest unfinished."""
        while True:
            with self._lock:
                self._lock.wait_for(lambda: bool(self._jobs) or self.closed)
                if self.closed:
                    return
                job = self._jobs.popleft()
                if job.prepared is None:
                    job.prepared = self._workers.submit(self._prepare, job.item)
                self._prepare_ahead()
            prepared = job.prepared.result()
            if not job.done.set_running_or_notify_cancel():
                continue  # its caller stopped waiting (a server stopping): it stays unfinished, for the next start
            try:
                job.done.set_result(self._finish(prepared))
            except Exception as exc:  # the finisher outlives every item; the caller hears what failed it
                job.done.set_exception(exc)

    def close(self, wake: Callable[[], None] = lambda: None) -> None:
        """Stop: the item being finished is finished; those still queued are left (whoever waits on them sees them
        cancelled). ``wake`` is called once ``closed`` is set, before waiting for the finisher: it releases what a
        preparation may be waiting for."""
        with self._lock:
            self.closed = True
            wake()
            self._lock.notify_all()
            left, finisher = list(self._jobs), self._finisher
            self._jobs.clear()
        if finisher is not None and finisher is not threading.current_thread():
            finisher.join()
        self._workers.shutdown(wait=True, cancel_futures=True)
        for job in left:
            job.done.cancel()
