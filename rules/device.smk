# Device: firmware for the device's port, then measurement over its serial line.
# Scheduling: jobs on one physical board run one at a time (resource board_<id>, see
# tinysweep/workflow.py measure_resources); host and emulator jobs run in parallel up to --cores.


rule firmware:
    input:
        script="stages/build_firmware.py",
        model="models/{bench}/w{bits}/c",
    output:
        directory("build/{bench}_{device}_w{bits}"),
    log:
        "logs/firmware/{bench}_{device}_w{bits}.log",
    benchmark:
        "benchmarks/firmware/{bench}_{device}_w{bits}.tsv",
    params:
        args=W.build_args,
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "exec python {input.script} {params.args} --model-dir {input.model} --out {output} > {log} 2>&1"


rule measure:
    input:
        unpack(W.measure_inputs),
    output:
        directory("results/{bench}_{device}_w{bits}"),
    log:
        "logs/measure/{bench}_{device}_w{bits}.log",
    benchmark:
        "benchmarks/measure/{bench}_{device}_w{bits}.tsv",
    params:
        args=W.measure_args,
    resources:
        **W.measure_resources(),
    conda:
        "../envs/tinysweep.yaml"
    shell:
        "exec python {input.script} {params.args} --firmware {input.firmware}/firmware"
        " --build-info {input.firmware}/build.json --model {input.model}"
        " --codegen {input.codegen}/model.json --quantize-info {input.quantize}"
        " --testset {input.testset} --out {output} > {log} 2>&1"
