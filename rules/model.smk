# Model: float training, quantization to a bits configuration (quantize.configs), C code
# generation (each weight tensor stored at the narrowest width holding it), test-set export.


rule train:
    input:
        script="stages/train.py",
        features="data/datasets/{bench}/features.npz",
    output:
        model="models/{bench}/float.keras",
        metrics="models/{bench}/train.json",
    log:
        "logs/train/{bench}.log",
    benchmark:
        "benchmarks/train/{bench}.tsv",
    params:
        args=W.train_args,
    threads: 2
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "exec python {input.script} --benchmark {wildcards.bench} --features {input.features}"
        " --out {output.model} --metrics {output.metrics} {params.args} > {log} 2>&1"


# A model trained elsewhere (params `external`) replaces train: its float model and its
# EnergyRunner sets become what quantize and export_testset read.
rule import_model:
    input:
        unpack(W.import_inputs),
    output:
        model="models/{bench}/external/float.keras",
        features="models/{bench}/external/features.npz",
        metrics="models/{bench}/external/train.json",
    log:
        "logs/import_model/{bench}.log",
    benchmark:
        "benchmarks/import_model/{bench}.tsv",
    params:
        args=W.import_args,
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "exec python {input.script} --benchmark {wildcards.bench} {params.args} --out {output.model}"
        " --features-out {output.features} --metrics {output.metrics} > {log} 2>&1"


rule quantize:
    input:
        script="stages/quantize.py",
        model=W.float_model,
        features=W.features,
        train_metrics=W.train_metrics,
    output:
        model="models/{bench}/w{bits}/model.tflite",
        metrics="models/{bench}/w{bits}/quantize.json",
    log:
        "logs/quantize/{bench}_w{bits}.log",
    benchmark:
        "benchmarks/quantize/{bench}_w{bits}.tsv",
    params:
        args=W.quantize_args,
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "exec python {input.script} --model {input.model} --features {input.features}"
        " --train-metrics {input.train_metrics} --out {output.model} --metrics {output.metrics}"
        " {params.args} > {log} 2>&1"


rule convert:
    input:
        script="stages/convert.py",
        model="models/{bench}/w{bits}/model.tflite",
    output:
        directory("models/{bench}/w{bits}/c"),
    log:
        "logs/convert/{bench}_w{bits}.log",
    benchmark:
        "benchmarks/convert/{bench}_w{bits}.tsv",
    params:
        profile=W.profile,
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "exec python {input.script} --model {input.model} --profile {params.profile} --weight-bits auto"
        " --out {output} > {log} 2>&1"


rule export_testset:
    input:
        script="stages/export_testset.py",
        model="models/{bench}/w{bits}/model.tflite",
        features=W.features,
    output:
        directory("models/{bench}/w{bits}/testset"),
    log:
        "logs/export_testset/{bench}_w{bits}.log",
    benchmark:
        "benchmarks/export_testset/{bench}_w{bits}.tsv",
    params:
        args=W.testset_args,
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "exec python {input.script} --features {input.features} --model {input.model} {params.args}"
        " --out {output} > {log} 2>&1"
