{#- A table, not a view: the Dagster asset replaces warehouse.contact_clusters with DROP + RENAME, which a
    dependent view would block. Empty when the asset has not run yet. -#}
{{ config(materialized='table') }}

with clusters as (
    {{ source_if_exists('warehouse', 'contact_clusters',
                        {'contact_id': 'bigint', 'golden_id': 'bigint', 'match_probability': 'double precision'}) }}
)

select
    contact_id,
    coalesce(golden_id, contact_id) as golden_contact_id,
    match_probability
from clusters
where contact_id is not null
