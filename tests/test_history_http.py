"""The history endpoints over HTTP without Kafka: a hand-made index behind a push server."""

from __future__ import annotations

import orjson
from web_raw import http

from pulseboard.history.codec import Begin, Data, End
from pulseboard.history.store import HistoryWriter
from web.assets import STATIC_DIR, build_frontend
from web.harness import serving
from web.history_api import HistoryApi
from web.server import ServeSettings


async def test_not_kept_not_ready_then_answers(tmp_path):
    build_frontend()
    settings = ServeSettings(port=0, static_dir=STATIC_DIR)
    async with serving(settings, None) as server:
        r = await http(server.port, "/api/history/sessions")
        assert r.status == 404 and b"keeps no history" in r.body

        why: list[str | None] = ["reading 5 messages of h into the index"]
        server.history = HistoryApi(tmp_path, lambda: why[0])
        r = await http(server.port, "/api/history/state?session=live&t=1")
        assert r.status == 503
        assert orjson.loads(r.body) == {
            "error": "history not ready: reading 5 messages of h into the index"
        }

        w = HistoryWriter(tmp_path, "h")
        w.apply(
            [
                ("d1", Begin("g"), 0),
                ("d1", Data("g", [(100, "shipments_1m", "520000", 3)]), 0),
                ("d1", Data("g", [(102, "on_time_rate_1h", "520000", 0.75)]), 0),
                ("d1", Data("g", [(104, "shipments_1m", "520000", 0)]), 0),
                ("d1", End("g", 100, 105, 3), 0),
            ],
            {0: 5},
        )
        w.close()
        why[0] = None
        r = await http(server.port, "/api/history/sessions")
        assert r.status == 200 and r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "no-store"
        assert orjson.loads(r.body) == {
            "sessions": [{"name": "d1", "from": 100, "to": 105, "records": 3}]
        }
        head = await http(server.port, "/api/history/sessions", method="HEAD")
        assert head.status == 200 and head.body == b""
        assert head.headers["content-length"] == r.headers["content-length"]
        r = await http(server.port, "/api/history/state?session=d1&t=103")
        assert orjson.loads(r.body) == {
            "session": "d1",
            "t": 103,
            "values": {"shipments_1m|520000": 3, "on_time_rate_1h|520000": 0.75},
        }
        r = await http(server.port, "/api/history/state?session=d1&t=105")
        assert orjson.loads(r.body)["values"] == {"on_time_rate_1h|520000": 0.75}
        target = (
            "/api/history/series?session=d1&name=shipments_1m&key=520000&from=100&to=105&step=2"
        )
        r = await http(server.port, target)
        assert orjson.loads(r.body) == {"t": [100, 102, 104], "v": [3, 3, 0]}
        r = await http(server.port, "/api/history/sessions", method="DELETE")
        assert r.status == 405
