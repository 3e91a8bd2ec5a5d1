# Download: the ESA ESM archives from the GFZ FTP server (config source: ftp). Retries, resume
# (REST) and the size and gzip checks happen inside the job (gravsep.ingest.download), not through
# Snakemake restarts; the archive appears only when complete.
# Concurrent downloads are capped by the resource `ftp`: each job takes one, and the profile
# gives `--resources ftp=<ftp.max_parallel>` (without it Snakemake does not limit them).


# braces in the folder name are literal, not wildcards
ARCHIVE_DIR_PATTERN = (
    config["data"]["archive_dir"].replace("{", "{{").replace("}", "}}")
)


if config["source"] == "ftp":

    rule download:
        output:
            f"{ARCHIVE_DIR_PATTERN}/mtm_{{year}}_{{letter}}.tar.gz",
        log:
            "results/logs/download/{year}_{letter}.log",
        benchmark:
            "results/benchmarks/download/{year}_{letter}.tsv"
        # on the submit host: compute nodes often have no internet access
        localrule: True
        # the job runs gravsep.ingest.download: the CPU environment, as every non-GPU step
        conda:
            "../envs/cpu.yaml"
        container:
            config["containers"]["cpu"]
        resources:
            ftp=1,
        params:
            host=config["ftp"]["host"],
            port=config["ftp"]["port"],
            directory=config["ftp"]["directory"],
            user=config["ftp"]["user"],
            password_env=config["ftp"]["password_env"],
            retries=config["ftp"]["retries"],
            timeout=config["ftp"]["timeout"],
        script:
            "../workflow/scripts/download.py"
