"""Demo data for archives: an owner's archive with two small documents, an approved access request and the
read it allowed."""

from __future__ import annotations

import zlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.occupants.archives import rules
from services.occupants.people.tables import Person
from services.occupants.places.tables import Site, Unit
from shared import roles
from shared.config import Settings
from shared.files import FileStore


def tiny_pdf(title: str) -> bytes:
    """A one-page PDF whose page shows `title` (ASCII shown; the rest is kept in the document info)."""
    shown = title.encode("ascii", "replace").replace(b"(", b"[").replace(b")", b"]")
    stream = b"BT /F1 18 Tf 72 720 Td (" + shown + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title <feff" + title.encode("utf-16-be").hex().encode() + b"> >>",
    ]
    body, offsets = b"%PDF-1.4\n", []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += str(number).encode() + b" 0 obj\n" + content + b"\nendobj\n"
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    body += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    body += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n".encode()
    return body + f"startxref\n{xref}\n%%EOF\n".encode()


def tiny_png() -> bytes:
    """A 1×1 green PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00\xa0\x00"))
            + chunk(b"IEND", b""))


def seed(session: Session, site: Site) -> None:
    """The first unit's archive for the site's first person as its owner."""
    unit = session.scalar(select(Unit).where(Unit.site_id == site.id).order_by(Unit.number).limit(1))
    owner = session.scalar(select(Person).where(Person.site_id == site.id).order_by(Person.registered_at).limit(1))
    if unit is None or owner is None:
        return
    store = FileStore.from_settings(Settings())
    archive = rules.ensure_owner_archive(session, organization_id=site.organization_id, site_id=site.id,
                                         unit_id=unit.id, person_id=owner.id, actor="demo-cs-specialist")
    id_copy = rules.add_document(session, store, archive, kind="id_copy", title="身份证复印件 ID card copy",
                                 filename="id-card.pdf", content_type="application/pdf",
                                 content=tiny_pdf("ID card copy 身份证复印件"), actor="demo-cs-specialist")
    rules.add_document(session, store, archive, kind="inspection", title="验房签收 Inspection sign-off",
                       filename="inspection.png", content_type="image/png", content=tiny_png(),
                       actor="demo-cs-specialist")
    rules.record_information_form(session, archive, data={
        "full_name": owner.full_name, "phone": owner.phone, "email": owner.email, "mailing_address": "",
        "employer": "", "emergency_contact_name": "", "emergency_contact_phone": "", "household_members": [],
        "vehicle_plates": [], "notes": ""}, reason="入住登记", actor="demo-cs-specialist")
    request = rules.request_access(session, archive, mode="view", purpose="业主补办门禁卡，核对身份证",
                                   document_ids=[id_copy.id], information_form=False, actor="demo-cs-specialist")
    rules.decide_access(session, request, action="approve", reason="同意查阅", actor="demo-site-manager",
                        roles={roles.SITE_MANAGER})
    rules.read(session, archive, reader="demo-cs-specialist", what="document", document_id=id_copy.id)
