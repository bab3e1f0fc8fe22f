"""Executors: where the runs of a batch are computed, behind one small interface.

Every executor takes a picklable function and an iterable of tasks and yields results as they complete
(unordered): the results store writes each one at once and orders them when it assembles the batch, so the
files are identical whichever executor ran it and however many workers it had. Each task carries its own seeds,
so no executor needs to know about randomness; Dask tasks are submitted with ``pure=False`` so that two tasks
with equal arguments are never merged into one.

- ``SerialExecutor``: in this process (one worker; easiest to debug).
- ``ProcessExecutor``: the standard library's process pool on this machine's cores.
- ``DaskExecutor``: a ``dask.distributed`` cluster, either a ``LocalCluster`` started on the loopback interface
  or an existing scheduler at ``tcp://host:8786`` (optional extra: ``pip install .[dask]``).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol, Self

from sim.errors import ExecutorError

START_METHOD_ENV = "RAPPROCHEMENT_START_METHOD"


class Executor(Protocol):
    """Runs ``fn`` over ``tasks`` and yields results as they complete."""

    workers: int

    def imap_unordered(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any], *, total: int | None = None
    ) -> Iterator[Any]:
        """Yield ``fn(task)`` for every task, in completion order (``total``: how many tasks, if known)."""
        ...

    def submit(self, fn: Callable[[Any], Any], task: Any) -> Future[Any]:
        """Start ``fn(task)`` and return its future at once (the batch's figures, drawn beside later runs)."""
        ...

    def close(self) -> None:
        """Release workers (and any cluster this executor started)."""
        ...

    def futures_client(self) -> Any:
        """What libraries that submit their own jobs take: a ``concurrent.futures`` pool or a Dask client (None
        when the executor runs in this process)."""
        ...


class _Closing(AbstractContextManager["_Closing"]):
    def close(self) -> None:
        """Nothing to release by default."""

    def submit(self, fn: Callable[[Any], Any], task: Any) -> Future[Any]:
        """Compute ``fn(task)`` now, in this process, and return it as a finished future."""
        future: Future[Any] = Future()
        try:
            future.set_result(fn(task))
        except Exception as exc:  # kept in the future, raised where its result is asked for, as a pool would
            future.set_exception(exc)
        return future

    def futures_client(self) -> Any:
        """No pool of its own by default: the work runs in this process."""
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SerialExecutor(_Closing):
    """Compute every task in this process, in order."""

    workers = 1

    def imap_unordered(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any], *, total: int | None = None
    ) -> Iterator[Any]:
        """Yield ``fn(task)`` in task order."""
        for task in tasks:
            yield fn(task)


def _ignore_sigint() -> None:
    # Ctrl-C is the parent's to handle: it stops submitting and keeps what is done for --resume.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


#: Most tasks sent to a process worker in one message (see ``ProcessExecutor.imap_unordered``).
MAX_CHUNK = 4


def chunk_size(total: int | None, workers: int) -> int:
    """Tasks per message to a process pool: up to ``MAX_CHUNK`` when there are many tasks (at least eight
    messages per worker), one when there are few or their number is unknown, so no worker is left idle while
    another finishes a long last chunk."""
    if total is None:
        return 1
    return max(1, min(MAX_CHUNK, total // (8 * workers)))


def _apply(fn: Callable[[Any], Any], chunk: tuple[Any, ...]) -> list[Any]:
    return [fn(task) for task in chunk]


def _bounded(submit: Callable[[Any], Future[Any]], tasks: Iterable[Any], in_flight: int) -> Iterator[Any]:
    """Keep at most ``in_flight`` tasks submitted, so neither tasks nor results pile up in memory."""
    pending: set[Future[Any]] = set()
    iterator = iter(tasks)
    try:
        for task in iterator:
            pending.add(submit(task))
            if len(pending) >= in_flight:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        for future in pending:
            future.cancel()


class ProcessExecutor(_Closing):
    """A pool of worker processes on this machine.

    On Linux the workers are forked, so they start at once with the modules already imported (a spawned worker
    would spend about a second and a half importing Mesa, pandas and pyarrow). Forking is safe only before the
    parent starts threads (pyarrow does when it writes), so the command line creates one pool before any run
    is written. Elsewhere, and wherever the environment variable ``RAPPROCHEMENT_START_METHOD`` names another
    method (the test suite uses ``forkserver``), that method is used.
    """

    def __init__(self, workers: int) -> None:
        """Start ``workers`` processes."""
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        method = os.environ.get(START_METHOD_ENV) or ("fork" if sys.platform.startswith("linux") else None)
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_ignore_sigint,
        )

    def imap_unordered(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any], *, total: int | None = None
    ) -> Iterator[Any]:
        """Yield results as workers finish them, with a few tasks queued per worker.

        Tasks travel in chunks (``chunk_size``): one message and one future per chunk, and what the tasks share
        (the scenario) pickled once per chunk. Per task, that bookkeeping in this process competed with the
        workers for the cores."""
        size = chunk_size(total, self.workers)
        chunks = itertools.batched(tasks, size)
        in_flight = max(2, 4 // size) * self.workers
        for results in _bounded(lambda chunk: self._pool.submit(_apply, fn, chunk), chunks, in_flight):
            yield from results

    def submit(self, fn: Callable[[Any], Any], task: Any) -> Future[Any]:
        """Send ``fn(task)`` to a worker."""
        return self._pool.submit(fn, task)

    def futures_client(self) -> Any:
        """The process pool itself (a ``concurrent.futures`` executor)."""
        return self._pool

    def close(self) -> None:
        """Stop the workers, dropping tasks that have not started."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(_Closing):
    """A ``dask.distributed`` cluster: ``"local"`` starts a LocalCluster on 127.0.0.1, anything else is the
    address of a running scheduler (``tcp://host:8786``).

    ``submit`` (the batch's figures) runs in this process: figures are files beside the results, and a cluster's
    workers need not see this machine's disk (runs come back as bytes instead).
    """

    def __init__(self, address: str, workers: int) -> None:
        """Connect to (or start) the cluster."""
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:  # the optional extra is missing
            raise ExecutorError(
                f"--dask {address}: Dask is not installed; pip install '.[dask]' (or 'dask[distributed]')"
            ) from None
        self._cluster: Any = None
        if address == "local":
            self._cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(address, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:  # unreachable, refused, or not an address
                raise ExecutorError(
                    f"--dask {address}: cannot reach a Dask scheduler there ({exc}); expected 'local' or the "
                    "address of a running scheduler, e.g. tcp://host:8786"
                ) from None
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})) or workers)

    def imap_unordered(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any], *, total: int | None = None
    ) -> Iterator[Any]:
        """Submit tasks with ``pure=False`` (each carries its own seed) and yield results as they complete."""
        from dask.distributed import as_completed

        iterator = iter(tasks)
        futures = as_completed(
            [self._client.submit(fn, task, pure=False) for task in itertools.islice(iterator, 4 * self.workers)],
            with_results=True,
        )
        for _, result in futures:
            yield result
            task = next(iterator, None)
            if task is not None:
                futures.add(self._client.submit(fn, task, pure=False))

    def futures_client(self) -> Any:
        """The Dask client."""
        return self._client

    def close(self) -> None:
        """Disconnect, and stop the cluster if this executor started it."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(workers: int, dask: str | None = None) -> SerialExecutor | ProcessExecutor | DaskExecutor:
    """The executor a command line asks for: Dask when ``dask`` is given, else processes, else serial."""
    if dask is not None:
        return DaskExecutor(dask, workers)
    if workers == 1:
        return SerialExecutor()
    return ProcessExecutor(workers)
