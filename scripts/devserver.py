"""Start the processes of Procfile.dev (web, worker, beat) for `make run`, and stop them together.

Each line they print is prefixed with the process name. Ctrl-C, SIGTERM or a closed terminal
(SIGHUP) stops every process, and so does any one of them exiting. Each process runs in its
own process group, so that stopping it also stops what it started (runserver's reloaded
child); one that is still there after GRACE_SECONDS is killed.
"""

import contextlib
import ctypes
import os
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

GRACE_SECONDS = 10
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_print_lock = threading.RLock()  # say() is also called from signal handlers
# Set when the output can no longer be written: the terminal was closed without a SIGHUP
# reaching this script (a shell that does not pass it on). Then everything stops.
terminal_gone = threading.Event()


def say(text: str) -> None:
    with _print_lock:
        try:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        except OSError:
            terminal_gone.set()


def read_procfile(path: Path) -> dict[str, list[str]]:
    """`name: command` lines; $VARIABLES are taken from the environment."""
    processes = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = shlex.split(os.path.expandvars(command))
    return processes


def _die_with_this_script() -> None:
    # Runs in the child before exec: if this script is killed outright (SIGKILL), the kernel
    # sends the child SIGTERM instead of leaving it running.
    with contextlib.suppress(OSError, AttributeError):  # not Linux: no such safety net
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _relay(name: str, width: int, stream) -> None:
    for raw in iter(stream.readline, b""):
        say(f"{name:<{width}} | {raw.decode(errors='replace').rstrip()}")


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def stop_all(children: dict[str, subprocess.Popen]) -> None:
    for process in children.values():
        _signal_group(process, signal.SIGTERM)
    for name, process in children.items():
        try:
            process.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop within {GRACE_SECONDS}s: killing it")
        # The group may outlive its leader (runserver's child): make sure it is gone.
        _signal_group(process, signal.SIGKILL)
        process.wait()


def main() -> int:
    procfile = Path(sys.argv[1] if len(sys.argv) > 1 else "Procfile.dev")
    os.environ.setdefault("PORT", "8000")
    processes = read_procfile(procfile)
    width = max(map(len, processes))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # `python` in the Procfile is the interpreter running this script (the project's venv).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])

    stop = threading.Event()
    children: dict[str, subprocess.Popen] = {}

    def request_stop(signum, frame):
        if stop.is_set():  # a second Ctrl-C: no more waiting
            say(f"{signal.Signals(signum).name} received again: killing {', '.join(children)}")
            for child in children.values():
                _signal_group(child, signal.SIGKILL)
            return
        say(f"{signal.Signals(signum).name} received: stopping {', '.join(processes)}")
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)

    for name, command in processes.items():
        children[name] = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_this_script,
        )
        say(f"{name:<{width}} | started (pid {children[name].pid}): {shlex.join(command)}")
    relays = [
        threading.Thread(target=_relay, args=(name, width, child.stdout), daemon=True)
        for name, child in children.items()
    ]
    for relay in relays:
        relay.start()

    status = 0
    while not stop.is_set():
        if terminal_gone.is_set():
            break
        for name, child in children.items():
            if child.poll() is not None:
                say(f"{name} exited ({child.returncode}): stopping the others")
                status = child.returncode or 1
                stop.set()
                break
        stop.wait(0.2)

    stop_all(children)
    for relay in relays:
        relay.join(1)
    say("All stopped.")
    return status


if __name__ == "__main__":
    sys.exit(main())
