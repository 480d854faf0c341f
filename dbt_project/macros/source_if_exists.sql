{#- A source table another system creates (the Dagster assets write `warehouse.*`): select from it when it exists,
    otherwise from an empty row set with the same columns, so a fresh install builds before Dagster's first run.
    `columns` maps column name -> SQL type. -#}
{% macro source_if_exists(source_name, table_name, columns) -%}
    {%- set src = source(source_name, table_name) -%}
    {%- set relation = none -%}
    {%- if execute -%}
        {%- set relation = adapter.get_relation(database=src.database, schema=src.schema, identifier=src.identifier) -%}
    {%- endif -%}
    {%- if relation is not none %}
    select {% for name, type in columns.items() %}{{ adapter.quote(name) }}::{{ type }} as {{ name }}{{ "," if not loop.last }} {% endfor %}
    from {{ src }}
    {%- else %}
    select {% for name, type in columns.items() %}null::{{ type }} as {{ name }}{{ "," if not loop.last }} {% endfor %}
    where false
    {%- endif %}
{%- endmacro %}
