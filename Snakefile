# tinysweep: benchmark x device x bit-width sweeps of tiny ML models, measured on devices.
# The graph lives in rules/*.smk; every stage is a command-line program in stages/.
from snakemake.utils import min_version

from tinysweep.workflow import Helpers

min_version("9.0")


configfile: "params.yaml"


W = Helpers.checked(config)


W.register_board_limits(workflow)
W.release_stale_locks(workflow)


wildcard_constraints:
    **W.wildcard_constraints(),


# On a cluster (profiles/slurm) these run on the submitting host: a marker file, and the
# report, which talks to the MLflow server.
localrules:
    glob_target,
    report,


# Rules `exec` their stage, so the stage is Snakemake's own child: it stops with Snakemake even
# after a SIGKILL (tinysweep.cli.stop_with_parent), and its device processes with it.
include: "rules/data.smk"
include: "rules/model.smk"
include: "rules/device.smk"
include: "rules/report.smk"


rule all:
    input:
        W.result_dirs(),
        W.ablation_tables(),
        "results/summary.csv",
        "results/report.html",
    default_target: True


onsuccess:
    W.remove_glob_markers()
    W.warn_untracked()
