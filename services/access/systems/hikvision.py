"""The Hikvision adapter: ISAPI access-control calls to a controller or face terminal, with HTTP digest auth.

A pass is a person on the device (UserInfo, its employeeNo the pass id's 32 hex digits) with a validity
window and door rights, plus a card (CardInfo) when the credential is a card or a QR code read as one. The
device keeps local times with no zone, so the window is written in the device's own zone. A revocation
deletes the card and the person; one the device does not know is already done.

Access events are read back by serial number (AcsEvent with beginSerialNo), page by page with
searchResultPosition, from the last serial number stored: a device that was offline, or events that
arrived while the platform was down, are read on the next poll and none is skipped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import httpx

from services.access.systems.outcome import ACKNOWLEDGED, REFUSED, RETRY, Outcome

CARD_KINDS = ("card", "qr")
PAGE_SIZE = 30
LAST_LOCAL_TIME = "2037-12-31T23:59:59"
MAX_PAGES = 100
# subStatusCode values meaning the record is there already / not there: a repeated change is done.
ALREADY_THERE = {"employeeNoAlreadyExist", "cardNoAlreadyExist", "deviceUserAlreadyExistFace"}
NOT_THERE = {"employeeNoNotExist", "cardNoNotExist", "userNotExist", "cardNotExist"}
# Minor codes of AcsEvent (major 5) where the device let the person through.
GRANTED_MINORS = {1, 38, 75, 76}


class DeviceError(Exception):
    def __init__(self, reason: str, transient: bool, sub_status: str = ""):
        super().__init__(reason)
        self.reason, self.transient, self.sub_status = reason, transient, sub_status


def employee_no(pass_id: str) -> str:
    return pass_id.replace("-", "")[:32]


def pass_id_of(employee: str) -> str:
    try:
        return str(uuid.UUID(hex=employee))
    except ValueError:
        return ""


def local_time(instant: str | datetime, zone: str) -> str:
    """An instant as the device's local time, which is what its validity windows hold, up to the last one the
    devices accept."""
    moment = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    return min(moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S"), LAST_LOCAL_TIME)


@dataclass
class Device:
    client: httpx.Client
    system: object

    def call(self, method: str, path: str, body: dict) -> dict:
        try:
            response = self.client.request(
                method, f"{self.system.base_url}/ISAPI/AccessControl/{path}", params={"format": "json"}, json=body,
                auth=httpx.DigestAuth(self.system.username, self.system.secret))
        except httpx.HTTPError as exc:
            raise DeviceError(f"unreachable: {exc.__class__.__name__}", transient=True) from exc
        if response.status_code == 401:
            raise DeviceError("the device refused the account (401)", transient=True)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code >= 500:
            raise DeviceError(f"HTTP {response.status_code}", transient=True)
        if response.status_code != 200 or answer.get("statusCode", 1) != 1:
            sub_status = str(answer.get("subStatusCode", ""))
            raise DeviceError(f"{path}: HTTP {response.status_code} {sub_status or answer.get('statusString', '')}",
                              transient=sub_status == "deviceBusy", sub_status=sub_status)
        return answer

    def add_or_modify(self, kind: str, record: dict) -> None:
        try:
            self.call("POST", f"{kind}/Record", record)
        except DeviceError as exc:
            if exc.sub_status not in ALREADY_THERE:
                raise
            self.call("PUT", f"{kind}/Modify", record)

    def delete(self, kind: str, condition: dict) -> None:
        try:
            self.call("PUT", f"{kind}/Delete", condition)
        except DeviceError as exc:
            if exc.sub_status not in NOT_THERE:
                raise


def push(client: httpx.Client, system, row, doors: list[str]) -> Outcome:
    device = Device(client, system)
    employee = employee_no(row.pass_id)
    card = row.grant.get("credential_kind") in CARD_KINDS
    try:
        if row.action == "grant":
            doors_numbered = sorted(int(door) for door in doors)
            device.add_or_modify("UserInfo", {"UserInfo": {
                "employeeNo": employee, "name": row.grant.get("holder_name", "")[:32] or employee,
                "userType": "normal",
                "Valid": {"enable": True, "beginTime": local_time(row.grant["valid_from"], system.time_zone),
                          "endTime": local_time(row.grant["valid_until"], system.time_zone), "timeType": "local"},
                "doorRight": ",".join(str(door) for door in doors_numbered),
                "RightPlan": [{"doorNo": door, "planTemplateNo": "1"} for door in doors_numbered]}})
            if card:
                device.add_or_modify("CardInfo", {"CardInfo": {"employeeNo": employee, "cardNo": row.credential,
                                                               "cardType": "normalCard"}})
        else:
            if card:
                device.delete("CardInfo", {"CardInfoDelCond": {"CardNoList": [{"cardNo": row.credential}]}})
            device.delete("UserInfo", {"UserInfoDelCond": {"EmployeeNoList": [{"employeeNo": employee}]}})
    except DeviceError as exc:
        return Outcome(RETRY if exc.transient else REFUSED, exc.reason)
    return Outcome(ACKNOWLEDGED)


def events_after(client: httpx.Client, system, serial: int) -> list[dict]:
    """The device's access events with a serial number above `serial`, oldest first, as reported entries."""
    device, search_id, found = Device(client, system), uuid.uuid4().hex, []
    for _ in range(MAX_PAGES):
        answer = device.call("POST", "AcsEvent", {"AcsEventCond": {
            "searchID": search_id, "searchResultPosition": len(found), "maxResults": PAGE_SIZE, "major": 5,
            "minor": 0, "beginSerialNo": serial + 1}})["AcsEvent"]
        page = answer.get("InfoList") or []
        found += [_entry(item, system.time_zone) for item in page]
        if answer.get("responseStatusStrg") != "MORE" or not page:
            break
    return sorted(found, key=lambda entry: entry["serial"])


def _entry(item: dict, zone: str) -> dict:
    """Card readers come in pairs per door on these controllers: the odd one outside (entry), the even one
    inside (exit)."""
    occurred = datetime.fromisoformat(item["time"])
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=ZoneInfo(zone))
    reader = int(item.get("cardReaderNo") or 0)
    return {"serial": int(item["serialNo"]), "serial_no": str(item["serialNo"]),
            "credential": str(item.get("cardNo") or ""),
            "pass_id": pass_id_of(str(item.get("employeeNoString") or "")),
            "system_door_id": str(item.get("doorNo", "")),
            "direction": "unknown" if not reader else ("entry" if reader % 2 else "exit"),
            "outcome": "granted" if int(item.get("minor", 0)) in GRANTED_MINORS else "denied",
            "occurred_at": occurred.astimezone(timezone.utc)}
