"""Every run executes its steps inside its own run process (``in_process_executor``).

Dagster's default executor starts one more Python process per step, which loads the whole code
location again (about 3.5 s of CPU here, the dbt manifest included) before a file is read or dbt
starts: on a loaded plant server that start-up was the largest share of the time from a machine's
file to the marts (docs/machine_logs.md, "Freshness"). Our runs gain nothing from a process per
step: ingestion is one step, a dbt build is one ``dbt build`` (dbt parallelises its models
itself, ``DBT_THREADS``), the ERP sync parallelises its reads itself. A run worker killed
mid-step fails the run as before, and run retries (dagster.yaml) start it again.
"""

import dagster as dg

# Carried by every run that runs ``dbt build`` (the automation sensor's and the machine-log
# sensor's): dagster.yaml limits this tag to one run at a time, so builds never overlap.
DBT_BUILD_TAGS = {"shutter/dbt": "build"}
# A run tagged ``TABLE_METADATA_TAG: "false"`` records no row count and no column types for its
# dbt models: those queries, one per model, delay every materialization event of the build (5-8 s
# per build on a loaded server). The log sensor's runs (``machine_logs_to_marts``) carry it, being
# on the path from a machine's file to the marts; every other build (automation, Launchpad)
# records them.
TABLE_METADATA_TAG = "shutter/dbt_table_metadata"


@dg.definitions
def execution_defs() -> dg.Definitions:
    return dg.Definitions(executor=dg.in_process_executor)
