{#- Schemas are named exactly `staging`, `intermediate`, `marts` (no `<target schema>_` prefix): analysts,
    Dagster and the serving layer read them by those names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
