-- Every contact with its golden (deduplicated) contact id: the dedup asset's answer when it has one, else itself.
select
    contacts.contact_id,
    coalesce(clusters.golden_contact_id, contacts.contact_id) as golden_contact_id,
    clusters.match_probability,
    clusters.contact_id is not null as is_clustered
from {{ ref('stg_crm__contacts') }} as contacts
left join {{ ref('stg_warehouse__contact_clusters') }} as clusters
    on clusters.contact_id = contacts.contact_id
