"""Keyset paging walks a list once, in order, whatever the order columns' types, on SQLite as on PostgreSQL."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import DateTime, Numeric, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared import db
from shared.paging import keyset_page
from shared.problems import Problem


class Base(DeclarativeBase):
    pass


class Reading(Base):
    __tablename__ = "readings"

    id: Mapped[str] = mapped_column(String(10), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[Decimal] = mapped_column(Numeric(10, 2))


@pytest.fixture
def session(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/paging.sqlite3")
    Base.metadata.create_all(engine)
    start = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    with db.make_sessionmaker(engine)() as session:
        with session.begin():
            session.add_all(Reading(id=f"r{i}", taken_at=start + timedelta(minutes=7 * i % 5, seconds=i),
                                    value=Decimal(f"{(i * 37) % 11}.{i}0")) for i in range(11))
        yield session
    engine.dispose()


@pytest.mark.parametrize("order", [
    lambda: (Reading.taken_at, Reading.id),
    lambda: (Reading.value, Reading.id),
    lambda: (Reading.id,),
])
def test_pages_cover_the_list_once_in_order(session, order):
    columns = order()
    expected = [r.id for r in session.scalars(select(Reading).order_by(*columns))]
    seen, cursor = [], None
    while True:
        page = keyset_page(session, select(Reading), columns, {"limit": 3, "cursor": cursor})
        seen += [r.id for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


@pytest.mark.parametrize("cursor", ["not base64 !", "WzFd", "WyJ4IiwgInkiXQ==", "eyJhIjogMX0="])
def test_a_cursor_the_list_did_not_give_out_is_refused_naming_it(session, cursor):
    with pytest.raises(Problem) as refused:
        keyset_page(session, select(Reading), (Reading.taken_at, Reading.id), {"limit": 3, "cursor": cursor})
    assert (refused.value.status, refused.value.field) == (422, "cursor")
