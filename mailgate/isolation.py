"""Parsing e-mail in worker processes, bounded in CPU time and memory.

What an e-mail costs to parse is the sender's choice (bench/README.md: 16,000
encoded words in a Subject took ~6 s and 1.7 GiB in the standard library's
parser). The chat relay shares the web server's event loop, so no parse may run
there, nor in a thread of the same process (the parser holds the GIL, and its
memory would be the server's). Each message is parsed in a small pool of worker
processes from the standard library (`concurrent.futures.ProcessPoolExecutor`):

- a worker's address space is capped (`RLIMIT_AS`), so a parse that would grow
  past it raises MemoryError in the worker, never in the server;
- each job gets a CPU-time budget (`RLIMIT_CPU`, soft limit set to the CPU time
  already used plus the budget): past it the kernel ends the worker (SIGXCPU);
- the server also waits at most a wall-clock deadline, then kills the workers.

A worker that dies or runs out of time answers 451 (the sending server retries;
a message that kills a worker again is then only as costly as its budget, and
the per-address limits bound how often that happens) and the pool is replaced.
The message itself never leaves memory: it is pickled down a pipe to the worker
and the parsed text comes back the same way.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import resource
import select
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from .parse import Incoming, Unreadable, parse_incoming, precheck

log = logging.getLogger("oor.mailgate")
T = TypeVar("T")

WORKERS = 2
# A worker's whole address space: the interpreter with the parser imported takes ~40 MiB of it;
# the rest is room for one message (at the pre-check limits a message needs well under 50 MiB).
WORKER_ADDRESS_SPACE_BYTES = 256 * 1024 * 1024
CPU_SECONDS_PER_MESSAGE = 2
WALL_SECONDS_PER_MESSAGE = 10.0
RETRY_LATER = "451 4.3.0 Tijdelijk probleem; probeer het later / Temporary problem, try again later"
CANNOT_READ = "554 5.6.0 Dit bericht kunnen we niet lezen / This message cannot be read"


def _limit_worker(address_space: int, server_pid: int) -> None:
    """Runs once in each new worker, before any message reaches it."""
    _exit_with(server_pid)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = address_space if hard == resource.RLIM_INFINITY else min(address_space, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    # A worker ended by its CPU budget (SIGXCPU) would otherwise dump core: its memory, the raw
    # e-mail with the sender's address and the text, written to disk. No core, ever.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _not_dumpable()


def _exit_with(server_pid: int) -> None:
    """End this worker as soon as the server that started the pool is gone, even when it was killed.

    A worker is the child of the forkserver, not of the server, and holds both ends of its own job
    queue, so it never sees the server die; the forkserver in turn lives while any worker holds the
    pipe that tells it the server is alive. Without this, every crash of the gateway (SIGKILL, the
    OOM killer) would leave the forkserver and its workers running for good. A pidfd (opened while
    the server is certainly alive: it is starting this worker) becomes readable when the server
    exits, and cannot be fooled by a reused process id."""
    try:
        pidfd = os.pidfd_open(server_pid)
    except (AttributeError, OSError):  # not Linux 5.3+, or the server is gone already
        if not _alive(server_pid):
            os._exit(0)
        return

    def watch() -> None:
        select.select([pidfd], [], [])
        os._exit(0)
    threading.Thread(target=watch, name="exit-with-server", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, as another user
        pass
    return True


def _not_dumpable() -> None:
    """prctl(PR_SET_DUMPABLE, 0): no core dump and no ptrace attach by other processes of the user."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass  # not Linux: RLIMIT_CORE = 0 above still holds


class _OutOfMemory:
    """What a worker answers when a job hit its address-space cap (a marker, not an exception,
    so that nothing of the job's state travels back)."""


def _run_with_cpu_budget(seconds: int, fn: Callable[..., T], *args: Any) -> T | _OutOfMemory:
    """Run `fn` in the worker with a CPU-time budget; MemoryError becomes a marker, not a crash."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = used + seconds
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    try:
        return fn(*args)
    except MemoryError:
        return _OutOfMemory()
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


def _ready() -> int:
    return os.getpid()


def parse_checked(raw: bytes, max_chars: int) -> Incoming:
    """What a worker does with one message: the pre-check on the raw bytes, then the parse."""
    precheck(raw)
    return parse_incoming(raw, max_chars)


class ParsePool:
    """A few worker processes that parse mail; replaced whenever one dies or hangs."""

    def __init__(self, workers: int = WORKERS, *, address_space: int = WORKER_ADDRESS_SPACE_BYTES,
                 cpu_seconds: int = CPU_SECONDS_PER_MESSAGE, wall_seconds: float = WALL_SECONDS_PER_MESSAGE) -> None:
        self.workers, self.address_space = workers, address_space
        self.cpu_seconds, self.wall_seconds = cpu_seconds, wall_seconds
        self.replaced = 0
        self._executor: ProcessPoolExecutor | None = None

    def _new_executor(self) -> ProcessPoolExecutor:
        # "forkserver": workers start from a fresh process that has imported the parser and nothing
        # more of the server's state: never a fork of the server with its event loop, threads,
        # sockets, sessions and keys in its memory.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["mailgate.parse"])
        return ProcessPoolExecutor(self.workers, mp_context=context, initializer=_limit_worker,
                                   initargs=(self.address_space, os.getpid()))

    async def start(self) -> None:
        """Start the workers now, so the first message does not pay for it."""
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, _ready) for _ in range(self.workers)))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._kill(self._executor)
            self._executor = None

    @staticmethod
    def _kill(executor: ProcessPoolExecutor) -> None:
        # Python 3.14 has ProcessPoolExecutor.kill_workers(); before that the worker table is private.
        kill = getattr(executor, "kill_workers", None)
        if kill is not None:
            kill()
            return
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            try:
                process.kill()
            except (OSError, AttributeError):
                pass

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self._executor is broken or self._executor is None:
            self.replaced += 1
            broken.shutdown(wait=False, cancel_futures=True)
            self._kill(broken)
            self._executor = self._new_executor()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in a worker under the budgets; raise Unreadable with the SMTP reply otherwise."""
        if self._executor is None:
            self._executor = self._new_executor()
        executor = self._executor
        loop = asyncio.get_running_loop()
        try:
            job = loop.run_in_executor(executor, _run_with_cpu_budget, self.cpu_seconds, fn, *args)
        except BrokenProcessPool:
            # A worker ended while idle (killed from outside, say): nothing of this message was tried yet.
            self._replace(executor)
            executor = self._executor
            job = loop.run_in_executor(executor, _run_with_cpu_budget, self.cpu_seconds, fn, *args)
        try:
            result = await asyncio.wait_for(job, self.wall_seconds)
        except BrokenProcessPool:
            # A worker died: most likely this message's parse ran out of CPU time (SIGXCPU), but every
            # job in the pool at that moment sees the same, so the answer is "try again later".
            log.warning("a mail parsing worker ended; the pool is replaced")
            self._replace(executor)
            raise Unreadable(RETRY_LATER) from None
        except asyncio.TimeoutError:
            log.warning("a mail parse took longer than %.0f s; the workers are replaced", self.wall_seconds)
            self._replace(executor)
            raise Unreadable(RETRY_LATER) from None
        if isinstance(result, _OutOfMemory):
            raise Unreadable(CANNOT_READ)
        return result

    async def parse(self, raw: bytes, max_chars: int) -> Incoming:
        return await self.run(parse_checked, raw, max_chars)
