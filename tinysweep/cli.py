"""What every stage's command line shares."""
import argparse
import os
import signal
import sys
import threading

_PARENT = os.getppid()  # read at import, early: the parent may die before parse_args


def stop_with_parent(prog: str):
    """A stage stops when whoever started it is gone. SIGTERM unwinds it (finally blocks stop
    and reap device processes, atomic writers drop their temporary files), and Linux sends it
    SIGTERM when its parent dies: the rules `exec` their stage, so a Snakemake killed with
    SIGKILL leaves no stage running on beside the re-run."""
    def terminated(signum, frame):
        raise SystemExit(f"{prog}: stopped by signal {signum}; nothing written")
    if threading.current_thread() is not threading.main_thread():
        return  # parsed inside a program that owns its signals (a test running a stage's main)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, terminated)
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != _PARENT:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line ("<stage>: <message>") with exit status 1,
    like every other error a stage reports. Parsing also arms stop_with_parent()."""

    def error(self, message):
        self.exit(1, f"{self.prog}: {message}\n")

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        stop_with_parent(self.prog)
        return parsed
