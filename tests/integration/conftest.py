import pytest
from sqlalchemy import create_engine, text

from services.occupants.people import rules as people
from services.occupants.places import rules as places
from services.occupants.places.tables import Site
from shared import db
from shared.bus.connection import connect
from shared.bus.parking import list_dead_letters
from shared.config import Settings
from shared.service import load
from tests.conftest import ORG_A, create_site, occupants_client, running_workers, wait_until

pytestmark = pytest.mark.integration

PROBE = "tests.support.probe.service"


@pytest.fixture
def occupants_api(platform_env):
    with occupants_client() as client:
        yield client


@pytest.fixture
def demo_site(occupants_api):
    return create_site(occupants_api)["id"]


class Database:
    """Read a service's database directly, as a test's eyes."""

    def __init__(self, url: str):
        self.engine = create_engine(url, pool_pre_ping=True)

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def count(self, table: str) -> int:
        return self.scalar(f"SELECT count(*) FROM {table}")


@pytest.fixture
def databases(platform_env):
    opened = {name: Database(url) for name, url in platform_env.items()}
    yield opened
    for database in opened.values():
        database.engine.dispose()


@pytest.fixture
def writer(platform_env):
    """Registers people straight through the occupants domain, each in its own transaction."""
    engine = db.make_engine(platform_env["occupants"])
    sessions = db.make_sessionmaker(engine)
    with sessions() as session, session.begin():
        site = places.create_site(session, ORG_A, code="RL", name="Reliability Court")

    def register(count: int, prefix: str = "person", on_each=lambda i: None) -> None:
        for i in range(count):
            with sessions() as session, session.begin():
                people.register_person(session, session.get(Site, site.id), registered_by="test", kind="individual",
                                       full_name=f"{prefix}-{i}", phone=f"138{i:08d}")
            on_each(i)

    yield register
    engine.dispose()


def effects(databases) -> tuple[int, int]:
    """The probe consumer's effects: (rows, distinct events). Its table has no unique key, so an event
    handled twice shows as a second row."""
    with databases["probe"].engine.connect() as connection:
        return connection.execute(text("SELECT count(*), count(DISTINCT person_id) FROM effects")).one()


def assert_exactly_once(databases, expected: int, timeout: float = 90) -> None:
    wait_until(lambda: effects(databases)[0] >= expected, timeout=timeout, interval=0.25,
               what=f"{expected} effects")
    total, distinct = effects(databases)
    assert (total, distinct) == (expected, expected), f"{total} effects for {distinct} events, expected {expected}"


def dead_letter_count() -> int:
    settings = Settings()
    with connect(settings) as connection:
        return len(list_dead_letters(connection, load(PROBE).subscription(settings.bus_retry_delays)))


def queue_burst_with_one_failing_event(writer, databases) -> None:
    """20 good events around one the probe's handler fails on, all published before any consumer starts,
    so the failing event shares a batch with others."""
    writer(10, prefix="good-before")
    writer(1, prefix="FAIL")
    writer(10, prefix="good-after")
    with running_workers("occupants"):
        wait_until(lambda: databases["occupants"].scalar(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0, what="all published")
