import pytest

from services.notifications.delivery import channels, sender
from shared import db
from shared.config import Settings
from tests.conftest import SECRET, migrate
from tests.support.notifications.events import prepared
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
    engine = db.make_engine(database)
    yield prepared(db.make_sessionmaker(engine))
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
                                              SMS_GATEWAY_SECRET=gateway.secret, WEBHOOK_SECRET="webhook-secret",
                                              SMS_CALLBACK_URL="http://127.0.0.1:1/v1/sms/delivery-reports"),
                                     sessions)
    return lambda: sender.deliver_due(sessions, configured)
