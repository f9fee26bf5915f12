"""The bounded pool of worker threads that runs generation off the server's event loop.

``concurrent.futures.ThreadPoolExecutor`` would do, but for one thing: the interpreter joins
its threads at exit, so ``llmpresets serve`` could not stop on SIGTERM while one request was
still generating (a slow grammar, a long reply): the server closed, then the process waited
for the work nobody would read. These threads are daemons: when the server has stopped, the
process exits and the unfinished work goes with it. At most ``workers`` threads run at once;
more work waits in the queue. The event loop stays free to answer other requests, to read
disconnects and to handle signals while they run.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

__all__ = ["DaemonPool"]

Result = TypeVar("Result")
_Work = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonPool(Executor):
    """An executor of at most ``workers`` daemon threads, started as work arrives.

    >>> pool = DaemonPool(2, name="example")
    >>> pool.submit(sum, [1, 2, 3]).result()
    6
    >>> pool.shutdown()
    """

    def __init__(self, workers: int, *, name: str = "llmpresets") -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.name = name
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Result], /, *args: Any, **kwargs: Any) -> Future[Result]:
        future: Future[Result] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._queue.put((future, fn, args, kwargs))
            if self._idle > 0:
                self._idle -= 1  # an idle thread takes it
            elif len(self._threads) < self.workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            future, fn, args, kwargs = work
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new work; queued work cancelled (``cancel_futures``); threads told to stop.

        ``wait`` waits for the running work; without it, the daemon threads finish (or are
        dropped at exit) on their own.
        """
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    work = self._queue.get_nowait()
                except queue.Empty:
                    break
                if work is not None:
                    work[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()
