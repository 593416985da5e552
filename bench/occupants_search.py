"""The search benchmark: GET /v1/persons on BENCH_SEARCH_PERSONS (1,000,000) persons and BENCH_SEARCH_UNITS
(300,000) units, against a hello-world Flask app under the same gunicorn settings in the same run.

1. Load: one site's towers of 1,000 units, persons with Chinese names (a surname and one or two given
   characters, as most are) and unique mobile numbers, and two occupants per unit while persons last
   (the owner and a household member), written by PostgreSQL itself (generate_series) with the tables'
   secondary indexes dropped and built again afterwards, as a bulk load does.
2. Both apps start as production starts an API: `gunicorn -c python:shared.gunicorn_conf`, bound to the
   loopback. The search answers a mix of what a front desk types: a whole name, a surname and the first
   given character, the start of a mobile number, a unit's occupants; BENCH_SEARCH_LIMIT (20) a page.
3. Throughput: BENCH_SEARCH_CLIENTS (8) clients flat out for BENCH_SEARCH_SECONDS (10) against each app
   (hello-world before and after the search; their mean is the baseline). The figure is the search's
   requests/s as a fraction of hello-world's.
4. Latency: the search paced at half its measured maximum for BENCH_SEARCH_SECONDS; p99 from when each
   request was due (`bench.http_load.paced`); hello-world paced at the same rate beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import time
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode

import psycopg

from bench import http_load
from bench.apps import Gunicorn, MOST_PER_PHASE, api_env, flat_out, gunicorn_logs, paced
from bench.infra import databases, exact_quantile, progress
from services.occupants.places.rules import create_site
from shared import auth, db
from shared.config import Settings

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟"
            "谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建文斌宇浩凯健俊帆帅旭宁龙林欣佳蕾晨"
         "婷雪琳晶颖倩慧瑶怡雯嘉子轩涵梓博睿思雨欣诗语晓海波云峰志国庆春燕梅玲秀凤珍莉丹璐蓉瑞祥福贵荣昌盛"
         "达成新天乐安康顺民生永泽宏坤振兴东南北中亮光阳飞鸿雁")
UNITS_PER_BUILDING = 1000
DOORS_PER_FLOOR = 20


def full_name(n: int) -> str:
    """Person n's name; the SQL in `_load` builds the same."""
    surnames, given = len(SURNAMES), len(GIVEN)
    second = "" if n % 3 == 0 else GIVEN[(n // (surnames * given)) % given]
    return SURNAMES[n % surnames] + GIVEN[(n // surnames) % given] + second


def _uuid(kind: str, n: int) -> str:
    """The id the SQL gives row n of a kind: md5('bench-<kind>-<n>') read as a UUID."""
    return str(uuid.UUID(hashlib.md5(f"bench-{kind}-{n}".encode()).hexdigest()))


def run(persons: int, units: int) -> list[dict]:
    seconds = float(os.environ.get("BENCH_SEARCH_SECONDS", "10"))
    clients = int(os.environ.get("BENCH_SEARCH_CLIENTS", "8"))
    limit = int(os.environ.get("BENCH_SEARCH_LIMIT", "20"))
    with gunicorn_logs("psp-bench-search-") as logs:
        return _run(logs, persons, units, seconds, clients, limit)


def _run(logs: Path, persons: int, units: int, seconds: float, clients: int, limit: int) -> list[dict]:
    with databases(["occupants"]) as urls, ExitStack() as stack:
        organization_id = str(uuid.uuid4())
        site_id = _load(urls["occupants"], organization_id, persons, units)
        secret = secrets.token_urlsafe(32)
        env = api_env("occupants", urls["occupants"], secret, logs)
        hello = stack.enter_context(Gunicorn("hello", "bench.hello:app", env, logs))
        occupants = stack.enter_context(Gunicorn("occupants", "services.occupants.app:create_app()", env, logs))
        hello.wait_ready("/hello")
        occupants.wait_ready("/livez")

        token = auth.mint(Settings(AUTH_JWT_SECRET=secret), subject="bench", organization_id=organization_id,
                          roles=["cs_specialist"], sites=["*"])
        searches = _searches(occupants.port, token, site_id, persons, units, limit)
        hellos = [http_load.request(hello.port, "/hello")]
        _check_answers(occupants.port, token, site_id, limit)
        progress(f"occupants_search: gunicorn WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2')}, "
                 f"{clients} clients, {seconds:.0f} s a phase, {limit} a page; load average {os.getloadavg()[0]:.2f}")

        for port, requests in ((hello.port, hellos), (occupants.port, searches)):
            http_load.flat_out(port, requests, clients=clients, seconds=2, most=MOST_PER_PHASE)  # warm up
        before = flat_out("hello-world", hello.port, hellos, clients, seconds)
        search = flat_out("search", occupants.port, searches, clients, seconds)
        after = flat_out("hello-world", hello.port, hellos, clients, seconds)
        baseline = (before.rate + after.rate) / 2

        rate = search.rate / 2
        search_paced = paced("search", occupants.port, searches, rate, seconds)
        hello_paced = paced("hello-world", hello.port, hellos, rate, seconds)
    p99, hello_p99 = (exact_quantile(0.99, o.latencies) * 1000 for o in (search_paced, hello_paced))
    return [
        {"bench": "occupants_search", "value": round(search.rate, 1), "unit": "requests/s",
         "baseline": round(baseline, 1), "ratio": round(search.rate / baseline, 3), "target": ">= 0.4"},
        {"bench": "occupants_search_p99_ms", "value": round(p99, 1), "unit": "ms", "baseline": round(hello_p99, 1),
         "ratio": round(p99 / hello_p99, 3) if hello_p99 else None, "target": "<= 50"},
    ]


# -- the requests -------------------------------------------------------------------------------------------


def _searches(port: int, token: str, site_id: str, persons: int, units: int, limit: int) -> list[bytes]:
    """2,000 searches in a fixed random order: whole names, surname and first given character, the start
    of a mobile number (national form, 100 numbers share it), a unit's occupants."""
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}"}
    searches = []
    for i in range(2000):
        n = rng.randrange(persons)
        params = [
            {"q": full_name(n)},
            {"q": full_name(n)[:2]},
            {"q": full_name(n)},
            {"phone": f"138{n:08d}"[:9]},
            {"unit_id": _uuid("unit", rng.randrange(units))},
        ][i % 5]
        query = urlencode({"site_id": site_id, "limit": limit, **params})
        searches.append(http_load.request(port, f"/v1/persons?{query}", headers))
    rng.shuffle(searches)
    return searches


def _check_answers(port: int, token: str, site_id: str, limit: int) -> None:
    """The searches find what they look for, so the benchmark times real answers."""
    for params, expected in (({"q": full_name(4)}, full_name(4)), ({"unit_id": _uuid("unit", 0)}, full_name(0))):
        query = urlencode({"site_id": site_id, "limit": limit, **params})
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/persons?{query}",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            names = [p["full_name"] for p in json.load(response)["items"]]
        if expected not in names:
            raise RuntimeError(f"search {params} did not find {expected}: {names}")


# -- the data -----------------------------------------------------------------------------------------------

_TABLES = ("persons", "units", "occupancies")


def _load(url: str, organization_id: str, persons: int, units: int) -> str:
    """The site's buildings, units, persons and occupancies, with secondary indexes built after the rows."""
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as session, session.begin():
        site_id = create_site(session, organization_id, code="SEARCH", name="Search bench").id
    engine.dispose()
    started = time.perf_counter()
    params = {"org": organization_id, "site": site_id, "persons": persons, "units": units,
              "buildings": -(-units // UNITS_PER_BUILDING), "per_building": UNITS_PER_BUILDING,
              "doors": DOORS_PER_FLOOR, "surnames": list(SURNAMES), "given": list(GIVEN)}
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as connection:
        connection.execute("SET maintenance_work_mem = '256MB'")
        indexes = connection.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid::regclass::text = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)", [list(_TABLES)]).fetchall()
        with connection.transaction():
            for name, _ in indexes:
                connection.execute(f"DROP INDEX {name}")
            # Rows made here refer only to rows made here: skip the foreign keys' row-by-row checks.
            connection.execute("SET LOCAL session_replication_role = replica")
            for statement in _ROWS:
                connection.execute(statement, params)
            for _, definition in indexes:
                connection.execute(definition)
        connection.execute(f"VACUUM ANALYZE {', '.join(_TABLES)}")
    progress(f"occupants_search: loaded {persons} persons, {units} units and their occupancies in "
             f"{time.perf_counter() - started:.0f} s")
    return site_id


_ROWS = (
    """INSERT INTO buildings (id, organization_id, site_id, code, name)
       SELECT md5('bench-building-' || b)::uuid::text, %(org)s, %(site)s, 'T' || lpad(b::text, 4, '0'), 'Tower ' || b
       FROM generate_series(0, %(buildings)s - 1) AS b""",
    """INSERT INTO units (id, organization_id, site_id, building_id, number, floor, kind, state, floor_area_m2)
       SELECT md5('bench-unit-' || u)::uuid::text, %(org)s, %(site)s,
              md5('bench-building-' || u / %(per_building)s)::uuid::text,
              (u %% %(per_building)s / %(doors)s + 1)::text || lpad((u %% %(doors)s + 1)::text, 2, '0'),
              u %% %(per_building)s / %(doors)s + 1, 'residence', 'occupied', 89.50
       FROM generate_series(0, %(units)s - 1) AS u""",
    """INSERT INTO persons (id, organization_id, site_id, kind, full_name, phone, email, preferred_language,
                           preferred_channels, emergency_contact_name, emergency_contact_phone,
                           emergency_contact_relation, contact_name, id_number, registered_by, registered_at)
       SELECT md5('bench-person-' || n)::uuid::text, %(org)s, %(site)s, 'individual',
              s[1 + n %% cardinality(s)] || g[1 + (n / cardinality(s)) %% cardinality(g)]
              || CASE WHEN n %% 3 = 0 THEN '' ELSE g[1 + (n / (cardinality(s) * cardinality(g))) %% cardinality(g)] END,
              '+86138' || lpad(n::text, 8, '0'), '', 'zh-CN', '["sms"]', '', '', '', '', '', 'bench', now()
       FROM generate_series(0, %(persons)s - 1) AS n,
            (SELECT CAST(%(surnames)s AS text[]) AS s, CAST(%(given)s AS text[]) AS g) AS names""",
    """INSERT INTO occupancies (id, organization_id, site_id, unit_id, person_id, role, state, start_date, share,
                               notice_channels, started_by, created_at)
       SELECT md5('bench-occupancy-' || n)::uuid::text, %(org)s, %(site)s,
              md5('bench-unit-' || n %% %(units)s)::uuid::text, md5('bench-person-' || n)::uuid::text,
              CASE WHEN n < %(units)s THEN 'owner' ELSE 'household_member' END, 'current', DATE '2020-01-01',
              CASE WHEN n < %(units)s THEN 100 END, '[]', 'bench', now()
       FROM generate_series(0, LEAST(%(persons)s, 2 * %(units)s) - 1) AS n""",
)

