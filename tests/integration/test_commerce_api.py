"""Commerce data in: a shop or n8n posts orders, carts and invoices; reposts update in place, bad input is
refused whole, and the demo history goes through the same path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from crm.db.engine import create_engine, session_factory
from serving.demo.commerce_history import fill_commerce_history
from tests.helpers import add_api_key, api_client, count, fetch_one, make_settings

pytestmark = pytest.mark.integration
ORDERS, CARTS, INVOICES = "/api/v1/commerce/orders", "/api/v1/commerce/carts", "/api/v1/commerce/invoices"
COMMERCE_TABLES = ("contacts", "contact_identities", "orders", "order_lines", "carts", "cart_items",
                   "invoices")


def order(external_id: str = "shop-1001", phone: str | None = "+507 6123-4567",
          **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": external_id,
        "customer": {"phone": phone, "email": "ana.perez@example.com", "name": "Ana Pérez"},
        "status": "paid",
        "currency": "usd",
        "lines": [{"sku": "JBL-T510", "quantity": 2, "unit_price": "49.90"},
                  {"sku": "CASE-01", "name": "Funda", "quantity": 1, "unit_price": 5}],
        "shipping_method": "Express",
        "shipping_city": "David",
        "shipping_cost": 15,
        "total": "119.80",
        "placed_at": "2026-03-02T15:04:05-05:00",
    }
    body.update(overrides)
    return body


def cart(external_id: str = "cart-77", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": external_id,
        "customer": {"phone": "61234567"},
        "status": "abandoned",
        "items": [{"sku": "JBL-T510", "quantity": 1, "unit_price": "49.90"}],
        "last_activity_at": "2026-03-05T10:00:00Z",
        "checkout_url": "https://shop.example.com/checkout/cart-77",
    }
    body.update(overrides)
    return body


def invoice(external_id: str = "inv-1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": external_id,
        "customer": {"email": "Ana.Perez@Example.com"},
        "order_external_id": "shop-1001",
        "amount": "119.80",
        "status": "open",
        "issued_at": "2026-03-02T15:05:00-05:00",
        "due_at": "2026-04-01T00:00:00-05:00",
    }
    body.update(overrides)
    return body


async def row_counts(db: psycopg.AsyncConnection) -> dict[str, int]:
    return {table: await count(db, table) for table in COMMERCE_TABLES}


async def test_commerce_routes_need_a_commerce_key(clean_db: str, db: psycopg.AsyncConnection) -> None:
    read, admin = await add_api_key(db, "read"), await add_api_key(db, "admin")
    async with api_client(make_settings(clean_db)) as client:
        for path, body in ((ORDERS, {"orders": [order()]}), (CARTS, {"carts": [cart()]}),
                           (INVOICES, {"invoices": [invoice(order_external_id=None)]})):
            missing = await client.post(path, json=body)
            assert missing.status_code == 401, path
            forbidden = await client.post(path, json=body, headers=read)
            assert forbidden.status_code == 403 and "commerce" in forbidden.json()["detail"], path
        assert await count(db, "contacts") == 0, "a refused key writes nothing"
        allowed = await client.post(ORDERS, json={"orders": [order()]}, headers=admin)
    assert allowed.status_code == 200, allowed.text


async def test_an_order_is_created_then_updated_by_its_external_id(clean_db: str,
                                                                   db: psycopg.AsyncConnection) -> None:
    key = await add_api_key(db, "commerce")
    await db.execute("INSERT INTO crm.products (sku, name, price) "
                     "VALUES ('JBL-T510', 'Audífonos JBL', 49.90)")
    async with api_client(make_settings(clean_db)) as client:
        first = await client.post(ORDERS, json={"source": "shopify", "orders": [order()]}, headers=key)
        assert first.status_code == 200, first.text
        assert first.json()["created"] == 1 and first.json()["updated"] == 0
        [item] = first.json()["items"]
        assert item["external_id"] == "shop-1001" and item["created"] is True

        stored = await fetch_one(db, "SELECT * FROM crm.orders WHERE id = %s", item["id"])
        assert (str(stored["subtotal"]), str(stored["shipping_cost"]), str(stored["total"])) \
            == ("104.80", "15.00", "119.80")
        assert (stored["currency"], stored["status"], stored["source"], stored["order_number"]) \
            == ("USD", "paid", "shopify", "shop-1001")
        assert stored["placed_at"] == datetime(2026, 3, 2, 20, 4, 5, tzinfo=UTC)
        jbl = await fetch_one(db, "SELECT name, product_id FROM crm.order_lines WHERE sku = 'JBL-T510'")
        assert jbl["name"] == "Audífonos JBL" and jbl["product_id"] is not None, "lines link to the catalog"

        taken = await client.post(ORDERS, headers=key,
                                  json={"orders": [order("shop-2", order_number="shop-1001")]})
        assert taken.status_code == 422 and "order_number 'shop-1001' already belongs" in taken.text
        changed = order(status="shipped", total=None, shipping_cost=0,
                        lines=[{"sku": "GAR-FR55", "name": "Garmin", "quantity": 3, "unit_price": "199.99"}])
        second = await client.post(ORDERS, json={"orders": [changed]}, headers=key)
    assert second.status_code == 200, second.text
    assert second.json()["items"] == [{"external_id": "shop-1001", "id": item["id"], "created": False}]
    assert await count(db, "orders") == 1
    lines = await count(db, "order_lines", "order_id = %s", item["id"])
    assert lines == 1, "the old lines are replaced, not added to"
    updated = await fetch_one(db, "SELECT status, subtotal, total, source FROM crm.orders WHERE id = %s",
                              item["id"])
    assert (updated["status"], str(updated["subtotal"]), str(updated["total"])) \
        == ("shipped", "599.97", "599.97")
    assert updated["source"] == "shopify", "a post without a source keeps the one recorded"


async def test_reposting_the_same_body_changes_nothing(clean_db: str, db: psycopg.AsyncConnection) -> None:
    key = await add_api_key(db, "commerce")
    snapshot_sql = ("SELECT (SELECT array_agg(updated_at ORDER BY id) FROM crm.orders) AS orders, "
                    "(SELECT array_agg(id ORDER BY id) FROM crm.order_lines) AS lines, "
                    "(SELECT array_agg(updated_at ORDER BY id) FROM crm.carts) AS carts, "
                    "(SELECT array_agg(id ORDER BY id) FROM crm.cart_items) AS items, "
                    "(SELECT array_agg(updated_at ORDER BY id) FROM crm.invoices) AS invoices, "
                    "(SELECT array_agg(updated_at ORDER BY id) FROM crm.contacts) AS contacts")
    bodies = ((ORDERS, {"orders": [order(), order("shop-1002", phone="+507 6999-0001")]}),
              (CARTS, {"carts": [cart()]}), (INVOICES, {"invoices": [invoice()]}))
    async with api_client(make_settings(clean_db)) as client:
        first = [await client.post(path, json=body, headers=key) for path, body in bodies]
        assert all(response.status_code == 200 for response in first), [r.text for r in first]
        before, counts = await fetch_one(db, snapshot_sql), await row_counts(db)
        again = [await client.post(path, json=body, headers=key) for path, body in bodies]
    assert [r.json()["items"] for r in again] == [
        [{**item, "created": False} for item in r.json()["items"]] for r in first]
    assert all(r.json()["created"] == 0 for r in again)
    assert await row_counts(db) == counts
    assert await fetch_one(db, snapshot_sql) == before, "no row rewritten, no line replaced"


@pytest.mark.parametrize(("path", "body", "expected"), [
    (ORDERS, {"orders": [order(customer={"name": "Nadie"})]}, "needs a phone or an email"),
    (ORDERS, {"orders": [order(lines=[{"sku": "X", "quantity": 1, "unit_price": -1}])]},
     "greater than or equal"),
    (ORDERS, {"orders": [order(currency="dollars")]}, "currency"),
    (ORDERS, {"orders": [order(total="100.00")]}, "total 100.00 does not match"),
    (ORDERS, {"orders": [order(), order()]}, "repeated: shop-1001"),
    (ORDERS, {"orders": [order(placed_at="2026-03-02T15:04:05")]}, "timezone"),
    (ORDERS, {"orders": [order(f"o-{n}") for n in range(501)]}, "at most 500"),
    (CARTS, {"carts": [cart(customer={"phone": "123"})]}, "not a valid phone number"),
    (CARTS, {"carts": [cart(total="1.00")]}, "does not match"),
    (INVOICES, {"invoices": [invoice(order_external_id="nope-9")]}, "'nope-9' names no stored order"),
    (INVOICES, {"invoices": [invoice(amount="-5")]}, "greater than or equal"),
])
async def test_bad_input_is_refused_whole_and_writes_nothing(clean_db: str, db: psycopg.AsyncConnection,
                                                             path: str, body: dict[str, Any],
                                                             expected: str) -> None:
    key = await add_api_key(db, "commerce")
    items = next(iter(v for k, v in body.items() if k != "source"))
    if len(items) == 1:  # a valid item beside the bad one must not be stored either
        valid = {ORDERS: order("ok-1"), CARTS: cart("ok-1"),
                 INVOICES: invoice("ok-1", order_external_id=None)}
        items.insert(0, valid[path])
    async with api_client(make_settings(clean_db)) as client:
        refused = await client.post(path, json=body, headers=key)
    assert refused.status_code == 422, refused.text
    assert expected in refused.text
    assert await row_counts(db) == dict.fromkeys(COMMERCE_TABLES, 0)


async def test_one_customer_however_the_phone_is_written(clean_db: str, db: psycopg.AsyncConnection) -> None:
    key = await add_api_key(db, "commerce")
    # The customer wrote on WhatsApp first: the contact exists with its wa_id identity.
    whatsapp = await fetch_one(db, "INSERT INTO crm.contacts (display_name, phone_e164, source_channel) "
                                   "VALUES ('Ana WA', '+50761234567', 'whatsapp') RETURNING id")
    await db.execute("INSERT INTO crm.contact_identities (contact_id, channel, kind, external_id) "
                     "VALUES (%s, 'whatsapp', 'wa_id', '50761234567')", (whatsapp["id"],))
    writings = ["+507 6123-4567", "6123-4567", "(507) 6123 4567", "50761234567", "+50761234567"]
    async with api_client(make_settings(clean_db)) as client:
        orders = await client.post(ORDERS, headers=key, json={"orders": [
            order(f"o-{n}", phone=phone, customer={"phone": phone}) for n, phone in enumerate(writings)]})
        assert orders.status_code == 200, orders.text
        # Someone new, known first by email, later with a phone: still one contact, now with that phone.
        by_email = await client.post(CARTS, headers=key, json={"carts": [
            cart("c-1", customer={"email": "luis@example.com", "name": "Luis"})]})
        with_phone = await client.post(CARTS, headers=key, json={"carts": [
            cart("c-2", customer={"email": "LUIS@example.com", "phone": "6555-0101"})]})
        phone_only = await client.post(INVOICES, headers=key, json={"invoices": [
            invoice("i-1", order_external_id=None, customer={"phone": "+507 6555 0101"})]})
    assert all(r.status_code == 200 for r in (by_email, with_phone, phone_only))
    assert await count(db, "contacts") == 2
    assert await count(db, "orders", "contact_id = %s", whatsapp["id"]) == len(writings)
    assert (await fetch_one(db, "SELECT display_name FROM crm.contacts WHERE id = %s", whatsapp["id"])) \
        == {"display_name": "Ana WA"}, "what the contact already has is kept"
    luis = await fetch_one(db, "SELECT id, email, phone_e164, display_name, source_channel FROM crm.contacts "
                               "WHERE id <> %s", whatsapp["id"])
    assert (luis["email"], luis["phone_e164"], luis["display_name"], luis["source_channel"]) \
        == ("luis@example.com", "+50765550101", "Luis", "commerce")
    assert await count(db, "contact_identities", "contact_id = %s AND channel = 'whatsapp' "
                                                 "AND kind = 'wa_id' AND external_id = '50765550101'",
                       luis["id"]) == 1
    assert await count(db, "carts", "contact_id = %s", luis["id"]) == 2
    assert await count(db, "invoices", "contact_id = %s", luis["id"]) == 1


async def test_an_invoice_links_to_its_order_and_a_cart_keeps_its_checkout_link(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    key = await add_api_key(db, "commerce")
    async with api_client(make_settings(clean_db)) as client:
        placed = await client.post(ORDERS, headers=key, json={"orders": [order()]})
        billed = await client.post(INVOICES, headers=key, json={"source": "n8n", "invoices": [invoice()]})
        carted = await client.post(CARTS, headers=key, json={"carts": [cart()]})
    assert billed.status_code == 200, billed.text
    order_id, invoice_id = placed.json()["items"][0]["id"], billed.json()["items"][0]["id"]
    stored = await fetch_one(db, "SELECT i.order_id, i.contact_id = o.contact_id AS same_contact, i.amount, "
                                 "i.status, i.invoice_number, i.due_at, i.source FROM crm.invoices i "
                                 "JOIN crm.orders o ON o.id = i.order_id WHERE i.id = %s", invoice_id)
    assert stored["order_id"] == order_id and stored["same_contact"], "the email finds the order's customer"
    assert (str(stored["amount"]), stored["status"], stored["invoice_number"], stored["source"]) \
        == ("119.80", "open", "inv-1", "n8n")
    assert stored["due_at"] == datetime(2026, 4, 1, 5, tzinfo=UTC)
    stored_cart = await fetch_one(db, "SELECT status, total, checkout_url, last_activity_at FROM crm.carts "
                                      "WHERE id = %s", carted.json()["items"][0]["id"])
    assert (stored_cart["status"], str(stored_cart["total"]), stored_cart["checkout_url"]) \
        == ("abandoned", "49.90", "https://shop.example.com/checkout/cart-77")
    assert await count(db, "cart_items") == 1


async def test_demo_history_is_plausible_and_a_second_run_adds_nothing(clean_db: str,
                                                                      db: psycopg.AsyncConnection) -> None:
    now = datetime(2026, 6, 15, 12, tzinfo=UTC)
    engine = create_engine(clean_db)
    try:
        async with session_factory(engine)() as session:
            first = await fill_commerce_history(session, seed=7, now=now)
        counts = await row_counts(db)
        async with session_factory(engine)() as session:
            second = await fill_commerce_history(session, seed=7, now=now)
    finally:
        await engine.dispose()
    assert (first["orders"], first["carts"], first["invoices"]) == (150, 30, 40)
    assert first["created"] == 220 and second["created"] == 0
    assert second == {**first, "created": 0}, "same seed, same history"
    assert await row_counts(db) == counts
    assert counts["orders"] == 150 and counts["carts"] == 30 and counts["invoices"] == 40
    assert 30 < counts["contacts"] < 150, "repeat buyers: fewer customers than orders"
    assert counts["order_lines"] >= 150 and counts["cart_items"] >= 30

    span = await fetch_one(db, "SELECT min(placed_at) AS first, max(placed_at) AS last, "
                               "count(DISTINCT date_trunc('month', placed_at)) AS months, "
                               "count(*) FILTER (WHERE total <> subtotal + shipping_cost) AS bad_totals, "
                               "count(DISTINCT status) AS statuses FROM crm.orders")
    assert now - timedelta(days=366) < span["first"] < now - timedelta(days=200) and span["last"] <= now
    assert span["months"] >= 11 and span["bad_totals"] == 0 and span["statuses"] >= 4
    assert await count(db, "orders o", "subtotal <> (SELECT sum(line_total) FROM crm.order_lines l "
                                       "WHERE l.order_id = o.id)") == 0
    carts = await fetch_one(db, "SELECT count(*) FILTER (WHERE status = 'abandoned') AS abandoned, "
                                "min(last_activity_at) AS oldest FROM crm.carts")
    assert carts["abandoned"] >= 25 and carts["oldest"] >= now - timedelta(days=7)
    invoices = await fetch_one(
        db, "SELECT count(*) FILTER (WHERE status = 'paid' AND paid_at <= %s) AS paid, "
            "count(*) FILTER (WHERE status = 'open' AND due_at BETWEEN %s AND %s) AS due_soon, "
            "count(*) FILTER (WHERE status = 'overdue' AND due_at < %s) AS overdue, "
            "count(*) FILTER (WHERE order_id IS NULL) AS unlinked FROM crm.invoices",
        now, now, now + timedelta(days=7), now)
    assert invoices["paid"] >= 10 and invoices["due_soon"] >= 5 and invoices["overdue"] >= 5
    assert invoices["unlinked"] == 0
    assert await count(db, "contacts", "phone_e164 !~ '^\\+5076[0-9]{7}$'") == 0, "Panamanian mobiles, E.164"
