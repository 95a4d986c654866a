"""Where a dataset's pairs are made: in this process (a thread pool), or on a Dask
cluster (a local one started here, an existing one at an address, or a Client
given). Each executor connects, starts, yields the pairs' outcomes as they finish,
and closes; :class:`~napari_semia.dataset.DatasetJob` drives them."""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import replace

from . import __version__
from .dataset_worker import (
    FAILURE_TOPIC,
    PairResult,
    PairTask,
    make_pair,
    run_pair_task,
    stop_event_name,
    worker_check,
)
from .errors import OutputWriteError, SemiaInputError

#: Address schemes of no scheduler in another process: Dask's ``inproc`` is this
#: process's own. (Other schemes are those Dask knows: tcp, tls, ws, wss, ucx and any
#: a plugin registers.)
_LOCAL_SCHEMES = ("inproc",)
#: Seconds a scheduler address may take to answer before it counts as unreachable.
CONNECT_TIMEOUT_S = 5.0
#: Seconds to wait for a cluster's first worker.
WORKER_TIMEOUT_S = 30.0
#: Tasks each in-process thread keeps queued, so Stop takes effect quickly.
_QUEUE_PER_THREAD = 2

@contextmanager
def children_ignore_interrupts():
    """Processes started inside ignore Ctrl-C: a terminal sends SIGINT to every
    process of the foreground group, and each local Dask worker printed its own
    KeyboardInterrupt traceback (60 lines) before ours. An ignored signal stays
    ignored in a child, and Python then installs no KeyboardInterrupt handler;
    this process alone handles Ctrl-C and closes the cluster."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------- executors
class InProcessExecutor:
    """Pairs made one after another in this process (torch uses every core)."""

    description = "Generating in this process."

    def __init__(self) -> None:
        self._late: list[PairResult] = []

    def connect(self) -> None:
        pass

    def failed_attempts(self) -> dict[int, list[str]]:
        return {}

    def start(self, job) -> None:  # (a DatasetJob: its shared inputs, folder and model)
        self._shared = replace(job.shared, out_dir=str(job.out_dir))

    def results(self, todo: list[PairTask], stop_event: threading.Event):
        # One background thread keeps Stop responsive for a caller that
        # consumes progress in a GUI thread, and lets writing overlap a little.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="semia-pair") as pool:
            queue = deque(todo)
            running = {}
            try:
                while queue or running:
                    while queue and len(running) < _QUEUE_PER_THREAD and not stop_event.is_set():
                        task = queue.popleft()
                        running[pool.submit(make_pair, self._shared, task)] = task.index
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in sorted(finished, key=lambda f: running[f]):
                        index = running.pop(future)
                        error = future.exception()
                        if error is None:
                            yield future.result()
                        elif isinstance(error, SemiaInputError):
                            raise error
                        else:
                            yield index, f"{type(error).__name__}: {error}"
            finally:
                # Interrupted (Ctrl-C, an error): the queued pairs are not made. They were,
                # after the run had ended, their files written with no manifest row (12
                # pairs on disk and 10 listed, found by a new user).
                for future in running:
                    future.cancel()
                # The pair under way still finishes (a thread cannot be stopped), its files
                # written: it is listed too (10 pairs on disk and 9 listed, found by a new
                # user), by the run, from ``late_results``.
                under_way = [future for future in running if not future.cancelled()]
                for future in wait(under_way).done if under_way else ():
                    if future.exception() is None:
                        self._late.append(future.result())

    def late_results(self) -> list:
        """Pairs finished after an interruption of :meth:`results`, their files written."""
        late, self._late = self._late, []
        return late

    def close(self) -> None:
        pass


def _is_client(value) -> bool:
    try:
        from distributed import Client
    except ImportError:
        return False
    return isinstance(value, Client)


def _no_scheduler(address: str, error: Exception) -> SemiaInputError:
    return SemiaInputError(
        f"No Dask scheduler answers at {address} (waited {CONNECT_TIMEOUT_S:g} s): {error}")


def _check_speaks_dask(address: str, host: str, port: int) -> None:
    """SemiaInputError unless a Dask scheduler answers at (host, port). A Dask
    server speaks first (its handshake) the moment a connection opens; another
    server there (the dashboard on :8787, any web server) stays silent, and
    ``Client`` then waited for ever, past its own timeout (found by a user)."""
    import socket

    try:
        connection = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        # Nothing answered at all: packets dropped on the way. It was told as "something
        # answers, but not a Dask scheduler", the wrong way to look (a cluster user).
        raise SemiaInputError(
            f"No Dask scheduler answers at {address}: nothing answered in {CONNECT_TIMEOUT_S:g} s. "
            "On a cluster, a firewall may be in the way, or the scheduler listens on another "
            "network interface of its node: give the address the scheduler prints.") from None
    except OSError as error:
        raise _no_scheduler(address, error) from None
    with connection:
        try:
            connection.settimeout(CONNECT_TIMEOUT_S)
            spoke = bool(connection.recv(1))
        except TimeoutError:
            spoke = None
        except OSError as error:
            raise _no_scheduler(address, error) from None
    if not spoke:
        raise SemiaInputError(
            f"Something answers at {address}, but not a Dask scheduler (no Dask greeting in "
            f"{CONNECT_TIMEOUT_S:g} s). Give the scheduler's own address (port 8786 by default), "
            "not its dashboard's (8787).")


class DaskExecutor:
    """Pairs made on a Dask cluster: an existing one, or a local one started here."""

    def __init__(self, scheduler, workers: int, retries: int, gather: bool) -> None:
        """``scheduler``: an address, or a ``distributed.Client`` of the caller's (a
        dask-jobqueue or TLS cluster's), which is used as it is and left open."""
        self.scheduler = scheduler
        self.workers = workers
        self.retries = retries
        self.gather = gather
        self.client = None
        self.cluster = None
        self.borrowed = not isinstance(scheduler, (str, type(None)))
        if self.borrowed and not _is_client(scheduler):
            # (A cluster object was taken for a Client, and its AttributeError told as
            # workers that cannot run napari-semia; a review.)
            raise SemiaInputError(
                f"scheduler must be a Dask scheduler's address or a distributed.Client, not a "
                f"{type(scheduler).__name__}" + (": give the cluster's Client, Client(cluster)."
                                                 if hasattr(scheduler, "scheduler_address") else "."))
        self.futures = []
        self.run_id = ""
        if self.borrowed:
            address = getattr(getattr(scheduler, "scheduler", None), "address", None)
            where = f" ({address})" if address else ""
            self.description = f"Generating on the Dask cluster of the Client given{where}."
        elif scheduler is not None:
            self.description = f"Generating on the Dask cluster at {scheduler}."
        else:
            self.description = f"Generating on a local Dask cluster of {workers} worker process(es)."

    def connect(self) -> None:
        """Connect (or start a local cluster); an unreachable scheduler is an input error."""
        if self.client is not None:
            return
        if self.borrowed:
            self.client = self.scheduler
            self._wait_for_workers()
            return
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SemiaInputError(
                "Running on Dask (--workers N or --scheduler) needs dask.distributed: pip install distributed"
            ) from None
        if self.scheduler is None:
            import logging
            import multiprocessing

            if getattr(multiprocessing.current_process(), "_inheriting", False):
                # A worker process that re-ran the user's script on start: without the
                # guard, each started a cluster again, and 489 lines of tracebacks ended
                # in "Nanny failed to start" (found by a new user of the Python API).
                raise SemiaInputError(
                    "A local Dask cluster was asked for from a process it started: the script "
                    "that calls generate(..., workers=N) must do so under "
                    "'if __name__ == \"__main__\":' (worker processes run the script again).")
            try:
                with children_ignore_interrupts():
                    self.cluster = LocalCluster(
                        n_workers=self.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, silence_logs=logging.ERROR,
                    )
            except RuntimeError as error:
                raise SemiaInputError(
                    f"The local Dask cluster's worker processes did not start ({error}). From a "
                    "Python script, call generate(..., workers=N) under 'if __name__ == \"__main__\":'. "
                    "Without a cluster, workers=0 (the command line's --workers 0, its default) makes "
                    "the pairs in this process."
                ) from None
            self.client = Client(self.cluster, set_as_default=False)
            return
        from distributed.comm.addressing import parse_address, parse_host_port

        try:  # a malformed address is said at once: Client would fail, then hang 10 s closing
            scheme, location = parse_address(self.scheduler)
            from distributed.comm.registry import backends

            if scheme in _LOCAL_SCHEMES or scheme not in backends:
                # (http:// and inproc:// passed, then hung 10 s in Client.__del__; a cluster user.)
                raise ValueError(f"'{scheme}://' is no address of a scheduler in another process")
            try:
                backends[scheme].get_connector()
            except Exception as error:  # (ucx:// without ucx-py: a traceback, then a 10 s hang)
                needs = " (it needs the ucx-py package)" if scheme == "ucx" else f": {error}"
                raise ValueError(f"this installation cannot reach '{scheme}://' addresses{needs}") from None
            host, port = parse_host_port(location)
        except ValueError as error:
            raise SemiaInputError(f"{self.scheduler} is not a Dask scheduler address ({error}); give "
                                  "host:port or tcp://host:port, e.g. tcp://127.0.0.1:8786.") from None
        security = None
        if scheme in ("tls", "wss"):
            from distributed.security import Security

            security = Security()  # (Dask's configuration: distributed.comm.tls.*)
            if not security.tls_ca_file:
                # Client raised a 60-line TypeError about an ssl_context (a cluster user).
                raise SemiaInputError(
                    f"The scheduler at {self.scheduler} uses TLS, and Dask's configuration names no "
                    "certificates for it: set distributed.comm.tls.ca-file, .client.cert and "
                    ".client.key (a Dask config file, or DASK_DISTRIBUTED__COMM__TLS__CA_FILE and so on), "
                    "or from Python pass your own Client: DatasetJob.prepare(..., scheduler=client).")
        if scheme in ("tcp", "tls"):
            _check_speaks_dask(self.scheduler, host, port)
        try:
            self.client = Client(self.scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False,
                                 security=security)
        except (OSError, TimeoutError, ValueError, TypeError) as error:
            raise _no_scheduler(self.scheduler, error) from None
        self._wait_for_workers()

    def _wait_for_workers(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=WORKER_TIMEOUT_S)
        except TimeoutError:
            where = self.description.removeprefix("Generating on ").rstrip(".")
            self.close()
            raise SemiaInputError(f"{where[0].upper()}{where[1:]} has no workers (waited "
                                  f"{WORKER_TIMEOUT_S:g} s).") from None

    def start(self, job) -> None:  # (a DatasetJob: its shared inputs, folder and model)
        out_dir = None if self.gather else str(job.out_dir.resolve())
        self._check_workers(out_dir)
        self.run_id = os.urandom(8).hex()
        shared = replace(job.shared, model_bytes=job.model_bytes, out_dir=out_dir, torch_threads=1,
                         run_id=self.run_id)
        # Sent once to every worker rather than with every task.
        self.shared_future = self.client.scatter(shared, broadcast=True, hash=False)

    def _check_workers(self, out_dir: str | None) -> None:
        """Every worker must run this napari-semia and, unless gathering, see the output folder."""
        try:
            reports = self.client.run(worker_check, out_dir)
        except Exception as error:  # whatever a worker raises, the cause is its set-up
            raise SemiaInputError(
                f"The Dask workers cannot run napari-semia ({type(error).__name__}: {error}). "
                f"Install napari-semia {__version__} (and torch) on every worker."
            ) from None
        versions = sorted({report["version"] for report in reports.values()} - {__version__})
        if versions:
            raise SemiaInputError(
                f"Dask workers run napari-semia {', '.join(versions)}, this machine {__version__}; "
                f"install the same version everywhere."
            )
        broken = {worker: report.get("torch_problem") for worker, report in reports.items()
                  if report.get("torch_problem")}
        if broken:
            worker, problem = next(iter(broken.items()))
            raise SemiaInputError(
                f"{len(broken)} Dask worker(s) cannot import torch ({worker}: {problem}). Install "
                "torch on every worker (any 2.x from 2.1, as here).")
        problems = {worker: report["problem"] for worker, report in reports.items() if report["problem"]}
        if problems:
            worker, problem = next(iter(problems.items()))
            raise SemiaInputError(
                f"{len(problems)} Dask worker(s) cannot write the dataset ({worker}: {problem}). "
                f"Use a folder on a file system the workers share, or gather the pairs to write "
                f"them here (--gather; gather=True in Python)."
            )

    def results(self, todo: list[PairTask], stop_event: threading.Event):
        from distributed import as_completed

        self.futures = [
            self.client.submit(run_pair_task, self.shared_future, task, retries=self.retries, pure=False,
                               key=f"semia-pair-{task.index}-{self.run_id}")
            for task in todo
        ]
        index_of = {future.key: task.index for future, task in zip(self.futures, todo)}
        reported = set()
        for future in as_completed(self.futures, loop=self.client.loop):
            reported.add(future.key)
            try:
                outcome = self._outcome(future, index_of[future.key])
            except OutputWriteError:
                # Pairs being made elsewhere are written: recorded before the run ends, as
                # at a stop (they were files with no manifest row; a review).
                unreported = [future for future in self.futures if future.key not in reported]
                for late in self._in_progress_outcomes(unreported, index_of):
                    if isinstance(late, PairResult):
                        yield late
                raise
            yield outcome
            if stop_event.is_set():
                # After the pairs in progress: a worker cannot be interrupted, and the
                # pairs it was making were written after the run had returned, with no
                # manifest row (found by a Python-API user).
                unreported = [future for future in self.futures if future.key not in reported]
                yield from self._in_progress_outcomes(unreported, index_of)
                return

    def _outcome(self, future, index: int, full_disk_ends: bool = True):
        """A finished future's pair, or (index, why it failed); with ``full_disk_ends``,
        a pair that could not be written raises its OutputWriteError."""
        try:
            if future.status == "finished":
                return future.result()
            if future.status == "error":
                error = future.exception()
                if full_disk_ends and isinstance(error, OutputWriteError):
                    # A full disk (or a folder turned read-only) ends the run, as it does
                    # in this process: every later pair failed the same way (a review).
                    raise error
                attempts = self.retries + 1
                return index, f"{type(error).__name__}: {error} (after {attempts} attempt(s))"
            # Lost or cancelled with no error of its own: the worker that held it
            # left (it read 'NoneType: None (after 3 attempts)'; found by a user).
            return index, (f"the task was {future.status} on the cluster: its Dask worker stopped or "
                           "lost touch with the scheduler")
        finally:
            future.release()

    def _in_progress_outcomes(self, pending: list, index_of: dict):
        """The outcomes of the ``pending`` pairs (not reported yet) that are done or
        being made, the queued ones cancelled. Tasks that start from now on make
        nothing (the run's stop Event, which each task reads first): one dispatched
        between the scheduler's answer and the cancel still ran. A task done, here or
        on its worker, is reported, not cancelled: its files are written."""
        from distributed import as_completed

        keys = [future.key for future in pending]
        if not self._set_stop_event():  # no Event to read: stop at once, as before
            self.client.cancel(pending)
            return
        try:
            states = self.client.run_on_scheduler(
                lambda dask_scheduler: {key: dask_scheduler.tasks[key].state for key in keys
                                        if key in dask_scheduler.tasks})
        except Exception:
            # A scheduler that cannot tell (one that refuses pickled functions, say):
            # every pending pair is waited for. Queued ones read the Event and return
            # None at once. Cancelling them all also cancelled pairs done or being made,
            # whose files were then on disk with no manifest row (found in review).
            states = {}
        waiting = {"queued", "no-worker", "waiting", "released"}
        self.client.cancel([future for future in pending if states.get(future.key) in waiting])
        for future in as_completed([f for f in pending if states.get(f.key) not in waiting],
                                   loop=self.client.loop):
            outcome = self._outcome(future, index_of[future.key], full_disk_ends=False)
            if outcome is not None:  # (None: started after the stop, made nothing)
                yield outcome

    def late_results(self) -> list:
        """None: a pair a worker finishes after an interruption has no row (docs/dataset.md)."""
        return []

    def failed_attempts(self) -> dict[int, list[str]]:
        """Errors of this run's failed attempts, by pair, from the workers' events."""
        if self.client is None or not self.run_id:
            return {}
        attempts: dict[int, list[str]] = {}
        for _, event in self.client.get_events(FAILURE_TOPIC):
            if isinstance(event, dict) and event.get("run") == self.run_id:
                attempts.setdefault(int(event["index"]), []).append(f"{event['error']} on {event['worker']}")
        return attempts

    def _set_stop_event(self) -> bool:
        """Tell this run's tasks not to start (see run_pair_task); False if it cannot.

        The Event stays on the scheduler after the run, one per stopped run: cleared,
        a cancelled task already sent to a worker could start after all and write a
        pair with no manifest row."""
        from distributed import Event

        try:
            Event(stop_event_name(self.run_id), client=self.client).set()
        except Exception:
            return False
        return True

    def close(self) -> None:
        if self.client is not None and self.futures:
            if self.run_id and not all(future.done() for future in self.futures):
                # Ctrl-C, an error, or a caller leaving the run early: a cancel alone
                # left tasks already in a worker's queue to start and write pairs with
                # no manifest row (found in review). Those being made still finish.
                self._set_stop_event()
            self.client.cancel(self.futures)
        self.futures = []
        if self.client is not None:
            if not self.borrowed:  # (the caller's Client stays theirs, open)
                self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
