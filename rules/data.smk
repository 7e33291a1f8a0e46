# Data: a dataset folder per benchmark (offline default or a real download), then features.


rule dataset:
    input:
        "stages/dataset.py",
    output:
        directory("data/datasets/{bench}/raw"),
    log:
        "logs/dataset/{bench}.log",
    benchmark:
        "benchmarks/dataset/{bench}.tsv",
    params:
        args=W.dataset_args,
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "exec python {input} --benchmark {wildcards.bench} {params.args} --out {output} > {log} 2>&1"


rule features:
    input:
        script="stages/features.py",
        raw="data/datasets/{bench}/raw",
    output:
        "data/datasets/{bench}/features.npz",
    log:
        "logs/features/{bench}.log",
    benchmark:
        "benchmarks/features/{bench}.tsv",
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "exec python {input.script} --benchmark {wildcards.bench} --raw {input.raw} --out {output} > {log} 2>&1"
