"""Fault drill: the database dies mid-stream. Nothing acknowledged is lost; what was refused is stored on retry."""

from __future__ import annotations

import asyncio

import orjson
import psycopg
import pytest

from crm.db.local_pg import ClusterProfile, LocalCluster
from crm.db.migrate import upgrade
from tests.helpers import api_client, make_settings, post_signed

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("graph_sandbox")]

DRILL = ClusterProfile(name="outage-drill", default_port=25440, database="crm", fast_unsafe=False)


def message(n: int) -> bytes:
    return orjson.dumps({"object": "instagram", "entry": [{"id": "17841", "time": 1700000000000 + n, "messaging": [
        {"sender": {"id": f"user{n % 7}"}, "recipient": {"id": "17841"}, "timestamp": 1700000000000 + n,
         "message": {"mid": f"aWdf-drill-{n}", "text": f"mensaje {n}"}}]}]})


@pytest.fixture
def drill_cluster():
    cluster = LocalCluster(DRILL)
    cluster.destroy()
    url = cluster.up()
    upgrade(url)
    yield cluster
    cluster.destroy()


async def test_database_stopped_under_load_loses_nothing_acknowledged(drill_cluster: LocalCluster) -> None:
    url = drill_cluster.url()
    settings = make_settings(url, webhook_write_timeout_s=2.0, db_connect_timeout_s=1.0)
    acknowledged: set[int] = set()
    refused: set[int] = set()

    async with api_client(settings) as client:
        async def send(n: int) -> None:
            response = await post_signed(client, message(n))
            if response.status_code == 200:
                acknowledged.add(n)
            else:
                assert response.status_code == 503, response.text
                refused.add(n)

        await asyncio.gather(*(send(n) for n in range(0, 60)))
        # Crash the server (no clean shutdown) while requests keep coming.
        stopping = asyncio.create_task(asyncio.to_thread(
            drill_cluster._run, [str(drill_cluster.bindir / "pg_ctl"), "-D", str(drill_cluster.data_dir),
                                 "-m", "immediate", "stop"]))
        await asyncio.gather(*(send(n) for n in range(60, 120)))
        await stopping
        await asyncio.gather(*(send(n) for n in range(120, 150)))
        assert refused, "with the database down, some deliveries must have been refused with 503"
        ready = await client.get("/readyz")
        assert ready.status_code == 503

        await asyncio.to_thread(drill_cluster.up)
        # Meta retries what was refused; the API recovers without a restart.
        for _ in range(20):
            retry = sorted(refused)
            refused.clear()
            await asyncio.gather(*(send(n) for n in retry))
            if not refused:
                break
            await asyncio.sleep(0.5)
        assert not refused, "after the database is back every retry is stored"
        await asyncio.gather(*(send(n) for n in range(150, 160)))

    with psycopg.connect(url) as conn:
        stored = {int(mid.rsplit("-", 1)[1]) for (mid,) in conn.execute("SELECT external_id FROM crm.messages")}
        jobs = conn.execute("SELECT count(*) FROM crm.procrastinate_jobs").fetchone()[0]
        raws = conn.execute("SELECT count(*) FROM crm.raw_webhook_events").fetchone()[0]
    assert stored == set(range(160)), "every message stored exactly once, acknowledged ones included"
    assert raws == 160 and jobs == 160
    # After the restart the worker works through all of it: every event processed, every message given a contact.
    from tests.integration.test_worker import drain

    await drain(url)
    with psycopg.connect(url) as conn:
        pending = conn.execute("SELECT count(*) FROM crm.raw_webhook_events WHERE processing_status <> 'processed'"
                               ).fetchone()[0]
        orphans = conn.execute("SELECT count(*) FROM crm.messages WHERE contact_id IS NULL").fetchone()[0]
    assert (pending, orphans) == (0, 0)


def test_a_cluster_whose_port_was_taken_while_stopped_moves_to_a_free_one(drill_cluster: LocalCluster) -> None:
    import socket

    drill_cluster.down()
    taken = drill_cluster.port
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        url = drill_cluster.up()
    assert drill_cluster.port != taken and f":{drill_cluster.port}/" in url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
