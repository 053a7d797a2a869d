{#-
    The config of a model of per-file partial sums (int_production_counts,
    int_production_counts_shift): append-only (each run appends the sums of the events of files
    newer than the last batch; no key to merge on, downstream models re-aggregate over file_id
    and batch_file_id), the rows of a superseded file version deleted first
    (delete_superseded_rows), indexed by file and batch for that delete and for the downstream
    re-aggregation, plus the model's own `indexes`.
-#}
{% macro partial_sums_config(indexes=[]) -%}
    {{ config(
        pre_hook="{{ delete_superseded_rows() }}",
        incremental_strategy='append',
        unique_key=[],
        indexes=indexes + [{'columns': ['batch_file_id']}, {'columns': ['file_id']}],
    ) }}
{%- endmacro %}
