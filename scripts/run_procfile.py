"""honcho, for `make run`: `python scripts/run_procfile.py start -f Procfile.dev ...`.

honcho starts every Procfile process from a helper process of its own (a fork that relays the
output) and stops them all on Ctrl-C, SIGTERM, or when one of them exits. What it does not do
is stop them when honcho itself is killed outright (SIGKILL, the OOM killer): its helpers
keep running, and so do web, worker and beat. So each helper forked here asks the kernel to
kill it when honcho dies, and each Procfile command runs under `setpriv --pdeathsig TERM`,
which stops the command when its helper dies.
"""

import ctypes
import os
import signal
import sys

from honcho.command import main

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with_honcho(honcho_pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    # SIGKILL: honcho's helpers ignore SIGTERM and SIGINT.
    if not hasattr(libc, "prctl") or libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        return  # not Linux: no such safety net
    if os.getppid() != honcho_pid:  # honcho died before the request was made
        os._exit(1)


if __name__ == "__main__":
    honcho_pid = os.getpid()
    os.register_at_fork(after_in_child=lambda: _die_with_honcho(honcho_pid))
    sys.exit(main())
