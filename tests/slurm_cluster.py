"""A real one-node SLURM cluster on the test machine (Debian slurm-wlm + munge, root, no systemd).

munged (unless one already answers), slurmctld and slurmd run in the foreground as children of
the test, on free ports, with their configuration, state, spool and logs in a scratch folder.
The configuration is also linked from /etc/slurm/slurm.conf (a file there is set aside and put
back): snakemake-executor-plugin-slurm-jobstep drops SLURM_CONF before its `srun`, which then
only finds the default path. stop() cancels the cluster's jobs, stops the daemons it started,
by PID, in reverse order, and puts /etc/slurm/slurm.conf back.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

COMMANDS = ("munged", "munge", "unmunge", "setpriv", "slurmctld", "slurmd", "sinfo", "sbatch",
            "squeue", "scancel", "scontrol")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_RUN = Path("/run/munge")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")

SLURM_CONF = """\
ClusterName=tinysweep-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
# a job asking more than the node has is refused at submission (else PENDING forever)
EnforcePartLimits=ALL
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldPidFile={scratch}/run/slurmctld.pid
SlurmdPidFile={scratch}/run/slurmd.pid
StateSaveLocation={scratch}/state
SlurmdSpoolDir={scratch}/spool
SlurmctldLogFile={scratch}/log/slurmctld.log
SlurmdLogFile={scratch}/log/slurmd.log
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Feature={features} State=UNKNOWN
{partitions}
"""


class ClusterError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    """90 % of the machine's available memory: slurmd refuses a node declaring more than it has."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(int(line.split()[1]) / 1024 * 0.9)
    raise ClusterError("no MemAvailable in /proc/meminfo")


def missing() -> str | None:
    """Why a cluster cannot start here (None if it can)."""
    if os.geteuid() != 0:
        return "starting slurmd/munged needs root"
    absent = [c for c in COMMANDS if shutil.which(c) is None]
    if absent:
        return (f"{', '.join(absent)} not installed: install Debian slurm-wlm and munge "
                "(envs/apt.txt; `make setup` does)")
    return None


class Cluster:
    """The node carries `features` (sbatch -C) and is in every partition of `partitions`, the
    first one the default."""

    def __init__(self, scratch: Path, partitions=("debug",), features: str = "host"):
        self.scratch = Path(scratch)
        self.partitions = partitions
        self.features = features
        self.conf = self.scratch / "slurm.conf"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        self.started: list[tuple[str, subprocess.Popen]] = []
        self.set_aside: Path | None = None

    # -- start ------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0):
        problem = missing()
        if problem:
            raise ClusterError(problem)
        for sub in ("run", "state", "spool", "log"):
            (self.scratch / sub).mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().split(".")[0]  # NodeName must equal `hostname -s`
        self.memory_mb = _memory_mb()
        partitions = "\n".join(
            f"PartitionName={name} Nodes={host} Default={'YES' if k == 0 else 'NO'} "
            "MaxTime=INFINITE State=UP" for k, name in enumerate(self.partitions))
        self.conf.write_text(SLURM_CONF.format(
            host=host, ctld_port=_free_port(), slurmd_port=_free_port(), cpus=os.cpu_count(),
            memory_mb=self.memory_mb, scratch=self.scratch, partitions=partitions,
            features=self.features))
        self._link_system_conf()
        deadline = time.monotonic() + timeout
        if not self._munge_answers():
            self._start_munged()
            self._wait(self._munge_answers, deadline, "munged does not answer")
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf)])
        self._wait(lambda: self.node_state() == "idle", deadline,
                   "the node does not become idle")

    def _link_system_conf(self):
        if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
            self.set_aside = SYSTEM_CONF.with_name("slurm.conf.before-tinysweep-test")
            SYSTEM_CONF.rename(self.set_aside)
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.symlink_to(self.conf)

    def _unlink_system_conf(self):
        if SYSTEM_CONF.is_symlink() and SYSTEM_CONF.readlink() == self.conf:
            SYSTEM_CONF.unlink()
        if self.set_aside is not None:
            self.set_aside.rename(SYSTEM_CONF)
            self.set_aside = None

    def _munge_answers(self) -> bool:
        p = subprocess.run("munge -n | unmunge", shell=True, capture_output=True)
        return p.returncode == 0

    def _start_munged(self):
        if not MUNGE_KEY.is_file():
            subprocess.run(["mungekey", "--create", "--keyfile", str(MUNGE_KEY)], check=True)
        shutil.chown(MUNGE_KEY, "munge", "munge")
        MUNGE_KEY.chmod(0o400)
        MUNGE_RUN.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_RUN, "munge", "munge")
        # munged refuses to run as root: drop to its user; -F keeps it in the foreground
        self._spawn("munged", ["setpriv", "--reuid=munge", "--regid=munge", "--init-groups",
                               "munged", "-F"])

    def _spawn(self, name: str, cmd: list[str]):
        log = open(self.scratch / "log" / f"{name}.out", "wb")
        self.started.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                                    env=self.env, start_new_session=True)))

    def _wait(self, ready, deadline: float, what: str):
        while not ready():
            for name, p in self.started:
                if p.poll() is not None:
                    raise ClusterError(f"{name} exited {p.returncode}: {self._log_tail(name)}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{what} (node state {self.node_state()!r}): "
                                   f"{self._log_tail('slurmd')} | {self._log_tail('slurmctld')}")
            time.sleep(0.2)

    def _log_tail(self, name: str) -> str:
        lines = []
        for path in (self.scratch / "log" / f"{name}.out", self.scratch / "log" / f"{name}.log"):
            if path.is_file():
                lines += path.read_text(errors="replace").strip().splitlines()[-3:]
        return " / ".join(lines) or "(no log)"

    def node_state(self) -> str:
        p = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                           env=self.env, timeout=10)
        return p.stdout.strip() if p.returncode == 0 else ""

    def jobs(self) -> list[dict]:
        """What the controller remembers of every job, running or ended in the last 5 minutes
        (scontrol show job: JobId, Comment, Partition, Features, NumCPUs, TimeLimit, ...)."""
        out = self.run(["scontrol", "show", "job", "--oneliner"]).stdout
        return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in out.splitlines()
                if line.startswith("JobId=")]

    def run(self, cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
        """A client command (squeue, sbatch, ...) against this cluster."""
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=30,
                              **kwargs)

    # -- stop -------------------------------------------------------------------------------
    def stop(self):
        """Cancel the cluster's jobs, then stop the daemons started here, newest first; put
        /etc/slurm/slurm.conf back."""
        if any(name == "slurmctld" and p.poll() is None for name, p in self.started):
            queued = self.run(["squeue", "-h", "-o", "%i"]).stdout.split()
            if queued:
                self.run(["scancel", *queued])
            end = time.monotonic() + 10
            while self.run(["squeue", "-h"]).stdout.strip() and time.monotonic() < end:
                time.sleep(0.2)
        for name, p in reversed(self.started):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        self.started.clear()
        self._unlink_system_conf()
