"""A Hikvision access controller simulator: the ISAPI endpoints the adapter uses, behind HTTP digest auth
(qop=auth, as the devices ask), with the device's answers and error codes, local times with no zone in
validity windows, and an event log numbered by serial number."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

REALM = "DS-K2604"
PREFIX = "/ISAPI/AccessControl/"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - what HTTP digest auth is


def _ok() -> dict:
    return {"statusCode": 1, "statusString": "OK", "subStatusCode": "ok"}


def _error(sub_status: str) -> dict:
    return {"statusCode": 6, "statusString": "Invalid Content", "subStatusCode": sub_status}


@dataclass
class HikvisionDevice:
    username: str = "admin"
    password: str = "device-pass-123"
    time_zone: str = "Asia/Shanghai"
    users: dict = field(default_factory=dict)
    cards: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    unauthorized: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    nonces: set = field(default_factory=set)

    def start(self) -> str:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._server.shutdown()

    def _wsgi(self, environ, start_response):
        return self._answer(Request(environ))(environ, start_response)

    # -- digest auth ---------------------------------------------------------------------------------------

    def _challenge(self) -> Response:
        nonce = secrets.token_hex(16)
        with self.lock:
            self.nonces.add(nonce)
            self.unauthorized += 1
        return Response("", status=401, headers={
            "WWW-Authenticate": f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", algorithm=MD5'})

    def _authorized(self, request: Request) -> bool:
        credentials = request.authorization
        if credentials is None or credentials.type != "digest" or credentials.nonce not in self.nonces:
            return False
        if credentials.username != self.username:
            return False
        ha1 = _md5(f"{self.username}:{REALM}:{self.password}")
        ha2 = _md5(f"{request.method}:{credentials.uri}")
        expected = _md5(f"{ha1}:{credentials.nonce}:{credentials.nc}:{credentials.cnonce}:{credentials.qop}:{ha2}")
        return secrets.compare_digest(expected, credentials.response or "")

    # -- ISAPI ---------------------------------------------------------------------------------------------

    def _answer(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._challenge()
        path = request.path.removeprefix(PREFIX)
        body = json.loads(request.get_data() or b"{}")
        with self.lock:
            self.calls.append((request.method, path, body))
            handler = {("POST", "UserInfo/Record"): self._add_user, ("PUT", "UserInfo/Modify"): self._modify_user,
                       ("PUT", "UserInfo/Delete"): self._delete_user, ("POST", "CardInfo/Record"): self._add_card,
                       ("PUT", "CardInfo/Modify"): self._modify_card, ("PUT", "CardInfo/Delete"): self._delete_card,
                       ("POST", "AcsEvent"): self._search_events}.get((request.method, path))
            if handler is None or request.args.get("format") != "json":
                return Response(json.dumps(_error("notSupport")), status=404, mimetype="application/json")
            status, answer = handler(body)
        return Response(json.dumps(answer), status=status, mimetype="application/json")

    def _add_user(self, body):
        user = body["UserInfo"]
        if user["employeeNo"] in self.users:
            return 400, _error("employeeNoAlreadyExist")
        datetime.strptime(user["Valid"]["beginTime"], "%Y-%m-%dT%H:%M:%S")  # local time, no zone, or a 500
        self.users[user["employeeNo"]] = user
        return 200, _ok()

    def _modify_user(self, body):
        user = body["UserInfo"]
        if user["employeeNo"] not in self.users:
            return 400, _error("employeeNoNotExist")
        self.users[user["employeeNo"]] = user
        return 200, _ok()

    def _delete_user(self, body):
        for item in body["UserInfoDelCond"]["EmployeeNoList"]:
            self.users.pop(item["employeeNo"], None)
            self.cards = {card: owner for card, owner in self.cards.items() if owner != item["employeeNo"]}
        return 200, _ok()

    def _add_card(self, body):
        card = body["CardInfo"]
        if card["employeeNo"] not in self.users:
            return 400, _error("employeeNoNotExist")
        if card["cardNo"] in self.cards:
            return 400, _error("cardNoAlreadyExist")
        self.cards[card["cardNo"]] = card["employeeNo"]
        return 200, _ok()

    def _modify_card(self, body):
        card = body["CardInfo"]
        self.cards[card["cardNo"]] = card["employeeNo"]
        return 200, _ok()

    def _delete_card(self, body):
        for item in body["CardInfoDelCond"]["CardNoList"]:
            if item["cardNo"] not in self.cards:
                return 400, _error("cardNoNotExist")
            del self.cards[item["cardNo"]]
        return 200, _ok()

    def _search_events(self, body):
        condition = body["AcsEventCond"]
        matching = [event for event in self.events if event["serialNo"] >= condition.get("beginSerialNo", 0)]
        start, size = condition["searchResultPosition"], min(condition["maxResults"], 30)
        page = matching[start:start + size]
        return 200, {"AcsEvent": {"searchID": condition["searchID"], "totalMatches": len(matching),
                                  "responseStatusStrg": "MORE" if start + size < len(matching) else "OK",
                                  "numOfMatches": len(page), "InfoList": page}}

    # -- the device's own decisions ------------------------------------------------------------------------

    def swipe(self, card_no: str, door_no: int, reader: int = 1, at: datetime | None = None) -> dict:
        """A card at a reader, decided by what the device holds, in its local time; logged with a serial."""
        with self.lock:
            local = (at or datetime.now(ZoneInfo(self.time_zone))).astimezone(ZoneInfo(self.time_zone))
            owner = self.users.get(self.cards.get(card_no, ""))
            allowed = bool(owner and str(door_no) in owner["doorRight"].split(",")
                           and owner["Valid"]["beginTime"] <= local.strftime("%Y-%m-%dT%H:%M:%S")
                           <= owner["Valid"]["endTime"])
            event = {"major": 5, "minor": 1 if allowed else 9, "time": local.isoformat(timespec="seconds"),
                     "cardNo": card_no, "employeeNoString": self.cards.get(card_no, ""), "doorNo": door_no,
                     "cardReaderNo": reader, "serialNo": len(self.events) + 1}
            self.events.append(event)
            return event
