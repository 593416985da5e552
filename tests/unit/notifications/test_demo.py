"""`make run`'s demo on the notifications side: a building notice sent and read once the occupants' events
have arrived."""

from sqlalchemy import select

from services.notifications import demo
from services.notifications.delivery import channels, sender
from services.notifications.delivery.tables import Message
from services.notifications.notices import rules as notices
from shared.config import Settings
from tests.conftest import ORG_A
from tests.support.notifications.events import BUILDING_B, an_occupant


def seed_live(sessions) -> bool:
    with sessions() as session, session.begin():
        return demo.seed_live(session, ORG_A)


def test_the_demo_notice_waits_for_occupants_then_is_sent_to_the_busiest_building_and_read(sessions):
    with sessions() as session, session.begin():
        demo.seed(session, ORG_A)
    assert seed_live(sessions) is False, "no occupants known yet"
    an_occupant(sessions, 1, channels=("app",))
    reader = an_occupant(sessions, 2, channels=("app",), building_id=BUILDING_B)
    an_occupant(sessions, 3, channels=("email",), building_id=BUILDING_B)
    assert seed_live(sessions) is False, "the notice is written and scheduled"
    assert seed_live(sessions) is False, "the workers have not sent it yet"
    notices.dispatch_due(sessions)
    sender.deliver_due(sessions, channels.configured(Settings(), sessions))
    assert seed_live(sessions) is True
    assert seed_live(sessions) is True, "a restart finds it done"
    with sessions() as session:
        sent = {m.recipient_id: m.status for m in session.scalars(select(Message))}
    assert sent == {reader: "read", "00000000-0000-4000-9000-000000000003": "sent"}
