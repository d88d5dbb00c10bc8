"""Sampling profiles of a relay process, for `bench/chat_relay.py --profile DIR`.

py-spy (not a dependency of the project: `pip install py-spy` into any environment and
pass its path, or have it on PATH) samples the relay's Python stacks from outside the
process, without pausing it (`--nonblocking`) and without a line of the server's code
changed. Idle threads are not sampled, so the samples are where the process spent CPU.
Its own CPU shows in the benchmark as "other processes".

The raw output (one line per distinct stack: `frame;frame;...;leaf COUNT`) is kept in DIR;
`summary` turns it into the two tables a reader wants: where the CPU went itself (the
leaf function, "self") and under which functions (inclusive, each function counted once
per stack).
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections import Counter
from pathlib import Path

# A frame in py-spy's raw format: "function (path/to/file.py:123)"; the line number is dropped
# so that a function's samples are added up.
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
_SHORTEN = (re.compile(r"^.*/site-packages/"), re.compile(r"^.*/lib/python3\.\d+/"))


class PySpy:
    """One `py-spy record` of a running process, from `start()` until `stop()`."""

    def __init__(self, exe: str, pid: int, out: Path, rate: int = 500) -> None:
        self.exe, self.pid, self.out, self.rate = exe, pid, out, rate
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.out.with_suffix(".log").open("wb")
        self.proc = subprocess.Popen(
            [self.exe, "record", "--pid", str(self.pid), "--format", "raw", "--output", str(self.out),
             "--rate", str(self.rate), "--nonblocking"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

    def stop(self) -> Path | None:
        """Stop sampling (py-spy writes its file on SIGINT); the file, or None if there is none."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.out if self.out.exists() else None


def _name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    for pattern in _SHORTEN:
        path = pattern.sub("", path)
    return f"{m['func']} ({path})"


def read_raw(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_name(f) for f in stack.split(";")]
        # py-spy puts "process PID:..." and "thread (...)" in front when asked to; neither is a function.
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        stacks.append((frames, int(count)))
    return stacks


def summary(path: Path, top: int = 20) -> list[str]:
    """The `top` functions by self samples and by inclusive samples, as text lines."""
    stacks = read_raw(path)
    total = sum(count for _, count in stacks)
    if not total:
        return [f"{path.name}: no samples"]
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        if frames:
            own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    lines = [f"{path.name}: {total} samples", "  self %   function (the leaf of the stack)"]
    lines += [f"  {100 * n / total:6.1f}   {name}" for name, n in own.most_common(top)]
    lines += ["  incl %   function (anywhere in the stack)"]
    lines += [f"  {100 * n / total:6.1f}   {name}" for name, n in inclusive.most_common(top)]
    return lines
