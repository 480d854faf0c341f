{#- The calendar day of a timestamptz in the reporting time zone (var `reporting_timezone`), independent of the
    session's TimeZone setting. -#}
{% macro local_date(ts) -%}
    ({{ ts }} at time zone '{{ var("reporting_timezone", "UTC") }}')::date
{%- endmacro %}
