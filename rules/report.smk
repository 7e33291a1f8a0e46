# Report: summary table, HTML report with plots, one MLflow run per combination.


rule report:
    input:
        script="stages/report.py",
        results=W.result_dirs(),
        ablation=W.ablation_tables(),
    output:
        summary="results/summary.csv",
        metrics="results/summary.json",
        html="results/report.html",
    log:
        "logs/report/report.log",
    benchmark:
        "benchmarks/report/report.tsv",
    params:
        args=W.report_args,
        # changes while MLflow was not reached: the next run logs again (not on the command line)
        tracking=W.tracking_pending,
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "exec python {input.script} --results {input.results} --summary {output.summary}"
        " --json {output.metrics} --html {output.html} --ablation {input.ablation}"
        " {params.args} > {log} 2>&1"


# The PTQ method ablation of one benchmark at one weight bit-width (params report.ablation).
rule ablation:
    input:
        unpack(W.ablation_inputs),
    output:
        csv="results/ablation/{bench}_w{bits}.csv",
        markdown="results/ablation/{bench}_w{bits}.md",
    log:
        "logs/ablation/{bench}_w{bits}.log",
    benchmark:
        "benchmarks/ablation/{bench}_w{bits}.tsv",
    params:
        args=W.ablation_args,
    threads: 2
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "exec python {input.script} --benchmark {wildcards.bench} --model {input.model}"
        " --features {input.features} --train-metrics {input.train_metrics} {params.args}"
        " --csv {output.csv} --markdown {output.markdown} > {log} 2>&1"


# `snakemake results/kws_*` on a fresh clone: the shell passes the pattern through unexpanded.
# This rule matches only targets holding glob characters and builds every declared
# combination the pattern matches; its marker file is removed when the run succeeds.
rule glob_target:
    input:
        W.glob_inputs,
    output:
        "results/{pattern}",
    log:
        "logs/glob/{pattern}.log",
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "echo {input} > {log}; touch {output:q}"
