{#- Seconds from `start` to `finish` (timestamptz), as a double. -#}
{% macro seconds_between(start, finish) -%}
    extract(epoch from ({{ finish }} - {{ start }}))::double precision
{%- endmacro %}
