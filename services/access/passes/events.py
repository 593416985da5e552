"""The payloads passes publish; contracts in proto/psp/access/v1/passes.proto."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from psp.access.v1.passes_pb2 import PassIssued, PassRevoked

from shared.db import aware


def at(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(aware(moment))
    return stamp


def issued(pass_, door_ids: list[str]) -> PassIssued:
    return PassIssued(
        pass_id=pass_.id, site_id=pass_.site_id, kind=pass_.kind, person_id=pass_.person_id or "",
        holder_name=pass_.holder_name, credential=pass_.credential, credential_kind=pass_.credential_kind,
        valid_from=at(pass_.valid_from), valid_until=at(pass_.valid_until), door_ids=door_ids,
        max_uses=pass_.max_uses)


def revoked(pass_) -> PassRevoked:
    return PassRevoked(pass_id=pass_.id, site_id=pass_.site_id, credential=pass_.credential,
                       credential_kind=pass_.credential_kind, reason=pass_.revocation_reason,
                       revoked_at=at(pass_.revoked_at))
