{#- Custom schemas are used as-is (staging, intermediate, marts): BI and the REST API rely on
    these exact names (DESIGN.md section 6), so dbt's default "<target>_<custom>" is not wanted. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
