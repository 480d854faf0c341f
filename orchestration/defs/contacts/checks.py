"""Data-quality checks on contacts_clean: the Great Expectations suites in ml.contacts.quality."""


import dagster as dg

from ml.contacts import quality
from orchestration.defs.contacts.assets import contacts_clean
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.warehouse_io import read_frame


def _clean_frame(warehouse: WarehouseResource):  # noqa: ANN202
    with warehouse.connect() as conn:
        return read_frame(conn, "SELECT * FROM warehouse.contacts_clean")


def _result(outcome: tuple[bool, dict], severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    passed, metrics = outcome
    return dg.AssetCheckResult(passed=bool(passed), severity=severity,
                               metadata={k: (float(v) if isinstance(v, float) else v) for k, v in metrics.items()
                                         if isinstance(v, (int, float, str, bool))})


@dg.asset_check(asset=contacts_clean, description="Most contacts that gave a phone have a valid one.")
def contacts_have_valid_phones(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(quality.contacts_have_valid_phones(_clean_frame(warehouse)), dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=contacts_clean, description="Emails given are well formed.")
def emails_are_well_formed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(quality.emails_are_well_formed(_clean_frame(warehouse)), dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=contacts_clean, blocking=True, description="One row per contact id.")
def contact_ids_are_unique(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(quality.contact_ids_are_unique(_clean_frame(warehouse)), dg.AssetCheckSeverity.ERROR)

