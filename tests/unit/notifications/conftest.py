import pytest

from services.notifications.delivery import channels, rules, sender
from services.notifications.models import chassis
from shared import db, policy
from shared.config import Settings
from tests.conftest import ORG_A, SECRET, migrate
from tests.support.notifications.events import a_site
from tests.support.notifications.peers import mail_server, sms_gateway


@pytest.fixture
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/notifications.sqlite3"
    migrate("notifications", url)
    monkeypatch.setenv("NOTIFICATIONS_DATABASE_URL", url)
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv("PSP_VAR_DIR", str(tmp_path))
    return url


@pytest.fixture
def sessions(database):
    """Notifications' database with the demo site known and quiet hours off (a test about them sets them)."""
    engine = db.make_engine(database)
    made = db.make_sessionmaker(engine)
    a_site(made)
    with made() as session, session.begin():
        policy.override(session, chassis, organization_id=ORG_A, site_id=None, setting=rules.QUIET_HOURS,
                        new_value=[], actor="test")
    yield made
    engine.dispose()


@pytest.fixture
def client(sessions, monkeypatch):
    from services.notifications.app import create_app

    monkeypatch.setenv("SMS_GATEWAY_SECRET", "gateway-secret")
    app = create_app()
    try:
        yield app.test_client()
    finally:
        app.extensions["psp"].engine.dispose()


@pytest.fixture
def mail():
    with mail_server() as server:
        yield server


@pytest.fixture
def gateway():
    with sms_gateway() as peer:
        yield peer


@pytest.fixture
def send(sessions, mail, gateway):
    """Run the sender once against the SMTP server and SMS gateway; answers how many it handed over."""
    configured = channels.configured(Settings(SMTP_URL=mail.url, SMS_GATEWAY_URL=gateway.url,
                                              SMS_GATEWAY_SECRET=gateway.secret,
                                              SMS_CALLBACK_URL="http://127.0.0.1:1/v1/sms/delivery-reports"),
                                     sessions)
    return lambda: sender.deliver_due(sessions, configured)
