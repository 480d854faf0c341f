"""Catalog in: CSV and YAML through the CLI, JSON through the API; catalog out: search the agent can use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.helpers import add_api_key, api_client, count, fetch_one, make_settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "catalog"


def crm(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crm.cli.main", *args], cwd=ROOT, capture_output=True, text=True,
                          env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
                          timeout=120)


async def test_csv_and_policies_import_through_the_cli(clean_db: str, db: psycopg.AsyncConnection) -> None:
    first = crm(clean_db, "catalog", "import", str(FIXTURES / "products.csv"))
    assert first.returncode == 0, first.stderr + first.stdout
    assert "5 new, 0 updated" in first.stdout
    again = crm(clean_db, "catalog", "import", str(FIXTURES / "products.csv"))
    assert "0 new, 5 updated" in again.stdout, "re-importing updates by sku, never duplicates"
    dell = await fetch_one(db, "SELECT name, price, stock, attributes FROM crm.products WHERE sku = 'DELL-XPS13'")
    assert (dell["name"], str(dell["price"]), dell["stock"]) == ("Dell XPS 13", "1099.00", 3)
    assert dell["attributes"]["use"] == ["programming", "web development"]

    policies = crm(clean_db, "catalog", "import-policies", str(FIXTURES / "policies.yaml"))
    assert policies.returncode == 0, policies.stderr + policies.stdout
    shipping = await fetch_one(db, "SELECT value FROM crm.policies WHERE key = 'shipping'")
    assert shipping["value"] == [{"name": "Express", "price": 15, "delay": "24-48 h"},
                                 {"name": "Estándar", "price": 0, "delay": "3-5 días"}]
    assert await count(db, "policies") == 7


async def test_a_bad_file_imports_nothing_and_says_where(clean_db: str, db: psycopg.AsyncConnection,
                                                         tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name,description,price,currency,stock,category,attributes\n"
                   "A1,Silla,,49.90,USD,3,muebles,{}\n"
                   "A2,Mesa,,-5,USD,1,muebles,{}\n"
                   "A3,Lampara,,12,USD,dos,iluminacion,{}\n"
                   "A1,Silla otra vez,,10,USD,1,muebles,{}\n"
                   "A4,Sofa,,300,USD,1,muebles,not json\n", encoding="utf-8")
    result = crm(clean_db, "catalog", "import", str(bad))
    assert result.returncode == 1
    for expected in ("line 3: price", "line 4: stock", "line 5: sku A1 appears twice", "line 6:"):
        assert expected in result.stdout, result.stdout
    assert await count(db, "products") == 0

    policies = tmp_path / "policies.yaml"
    policies.write_text("shipping:\n  - {name: Express}\n", encoding="utf-8")
    refused = crm(clean_db, "catalog", "import-policies", str(policies))
    assert refused.returncode == 1 and "shipping[0] needs name and price" in refused.stdout


async def test_api_upsert_needs_the_commerce_scope_and_search_finds_products(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    commerce, read = await add_api_key(db, "commerce"), await add_api_key(db, "read")
    products = [
        {"sku": "DELL-XPS13", "name": "Dell XPS 13", "price": 1099, "stock": 3, "category": "laptops",
         "description": "Laptop ultraliviana para desarrollo web y programación"},
        {"sku": "LEN-X1C", "name": "Lenovo ThinkPad X1 Carbon", "price": "1189.00", "stock": 5,
         "category": "laptops", "description": "Laptop empresarial, teclado excelente para programar"},
        {"sku": "JBL-T510", "name": "Audífonos JBL Tune 510BT", "price": 49.9, "stock": 25, "category": "audio"},
    ]
    async with api_client(make_settings(clean_db)) as client:
        forbidden = await client.post("/api/v1/catalog/products", json={"products": products}, headers=read)
        assert forbidden.status_code == 403
        invalid = await client.post("/api/v1/catalog/products", headers=commerce,
                                    json={"products": [{"sku": "X", "name": "X", "price": -1}]})
        assert invalid.status_code == 422
        created = await client.post("/api/v1/catalog/products", json={"products": products}, headers=commerce)
        assert created.json() == {"created": 3, "updated": 0, "skus": ["DELL-XPS13", "LEN-X1C", "JBL-T510"]}
        products[0]["stock"] = 2
        updated = await client.post("/api/v1/catalog/products", json={"products": products[:1]}, headers=commerce)
        assert updated.json()["updated"] == 1
        laptops = await client.get("/api/v1/catalog/products", params={"q": "laptop para programar"}, headers=read)
        english = await client.get("/api/v1/catalog/products", params={"q": "laptop for web development"},
                                   headers=read)
        no_accent = await client.get("/api/v1/catalog/products", params={"q": "audifonos jbl"}, headers=read)
        typo = await client.get("/api/v1/catalog/products", params={"q": "thinkpd"}, headers=read)
        intent = await client.post("/api/v1/intents/detect", headers=read,
                                   json={"message": "quiero 2 audifonos jbl tune para mañana"})
    assert {p["sku"] for p in laptops.json()} == {"DELL-XPS13", "LEN-X1C"}
    assert english.json()[0]["sku"] == "DELL-XPS13"
    assert no_accent.json()[0]["sku"] == "JBL-T510"
    assert typo.json()[0]["sku"] == "LEN-X1C"
    assert (await fetch_one(db, "SELECT stock FROM crm.products WHERE sku = 'DELL-XPS13'"))["stock"] == 2
    assert intent.json()["entities"]["products"] == ["JBL-T510"], "the NLU matches against the loaded catalog"
