"""Events profile publishes on `occupants.events`; contract in proto/psp/occupants/v1/profile.proto."""

from __future__ import annotations

from psp.occupants.v1.profile_pb2 import CustomerProfileChanged

from services.occupants.profile.tables import CustomerProfile


def profile_changed(profile: CustomerProfile, *, changed: list[str], reason: str) -> CustomerProfileChanged:
    return CustomerProfileChanged(
        person_id=profile.person_id, site_id=profile.site_id, key_customer=profile.key_customer,
        key_customer_reason=profile.key_customer_reason, silent_customer=profile.silent_customer,
        grade=profile.grade or "", notes=profile.notes, changed=changed, changed_by=profile.updated_by,
        reason=reason,
    )
