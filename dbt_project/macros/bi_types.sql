{#-
    The types BI tools read in the marts, decided once here (docs/dbt.md, "Numeric types for BI").
    Without them a ratio reaches BI as an unconstrained numeric with dozens of digits.
    - seconds: numeric(18, 3). Instants carry milliseconds, so every duration and every sum of
      durations is exact to the millisecond; nothing is lost when BI sums a column.
    - ratios (0-1): numeric(9, 6). Six decimals (0.0001 %) is finer than any OEE figure shown; a
      ratio above 1 (a wrong ideal cycle time) still fits. Never re-aggregate ratios: re-divide
      the summed components.
    - counts (parts, events): bigint.
    Marts apply them in their final select: {{ as_ratio(safe_ratio('a', 'b')) }} as availability.
-#}
{% macro seconds_type() -%} numeric(18, 3) {%- endmacro %}

{% macro ratio_type() -%} numeric(9, 6) {%- endmacro %}

{% macro count_type() -%} bigint {%- endmacro %}

{% macro as_seconds(expr) -%} (({{ expr }})::{{ seconds_type() }}) {%- endmacro %}

{% macro as_ratio(expr) -%} (({{ expr }})::{{ ratio_type() }}) {%- endmacro %}

{% macro as_count(expr) -%} (({{ expr }})::{{ count_type() }}) {%- endmacro %}
