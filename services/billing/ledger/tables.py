"""The owner ledger (台帐, BIL-4): accounts, charges, payments and how they settle each other, credits,
receipt numbers, and the requests and gateways that raise charges and post payments."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from services.billing.models import Base, Money, new_id


class Account(Base):
    """One payer's account for one unit. Its row is what a payment locks, so postings to it go one at a time;
    the balance is always computed from the entries, never stored beside them."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("unit_id", "person_id"),)

    # Derived from (unit, person), so a bill run creates each account once without looking it up.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36), index=True)
    unit_id: Mapped[str] = mapped_column(String(36))
    # "" for a unit nobody occupies yet: its fees wait on the unit's own account.
    person_id: Mapped[str] = mapped_column(String(36))
    currency: Mapped[str] = mapped_column(String(3))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Charge(Base):
    """An amount owed. `key` makes every source raise it once: a bill run's (unit, item, period), a request's
    line, a work order, an after-hours registration."""

    __tablename__ = "charges"
    __table_args__ = (Index("ix_charges_open", "account_id", "state"),
                      Index("ix_charges_unit_open", "unit_id", "state"),
                      Index("ix_charges_site_period", "site_id", "period"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    unit_id: Mapped[str] = mapped_column(String(36))
    person_id: Mapped[str] = mapped_column(String(36))
    item: Mapped[str] = mapped_column(String(60))
    # "2027-01", "2027-Q1", "2027-H1", "2027" for a cycle's charge; "" for a one-off.
    period: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(300))
    # bill_run, request, paid_service, after_hours, late_fee, meter_share, deduction, manual.
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(36), index=True)
    # open or paid.
    state: Mapped[str] = mapped_column(String(10))
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Payment(Base):
    """Money received, with the receipt that proves it. A void keeps the receipt number and says why."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("organization_id", "reference"), UniqueConstraint("site_id", "receipt_number"),
                      Index("ix_payments_site_day", "site_id", "paid_at"),
                      Index("ix_payments_prepaid", "site_id", postgresql_where=text("unallocated > 0"),
                            sqlite_where=text("unallocated > 0")))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    unit_id: Mapped[str] = mapped_column(String(36))
    person_id: Mapped[str] = mapped_column(String(36))
    amount: Mapped[Decimal] = mapped_column(Money)
    # What no charge has taken yet: the prepaid balance, spent on the next charges month by month.
    unallocated: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    # counter, door_to_door, direct_debit or online.
    method: Mapped[str] = mapped_column(String(20))
    # The payer's or bank's reference (a pre-written receipt, a debit batch line, a gateway's transaction);
    # one reference is posted once.
    reference: Mapped[str] = mapped_column(String(100))
    receipt_number: Mapped[str] = mapped_column(String(20))
    # posted or voided.
    state: Mapped[str] = mapped_column(String(10))
    void_reason: Mapped[str] = mapped_column(Text, default="")
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    posted_by: Mapped[str] = mapped_column(String(200))


class Allocation(Base):
    """How much of a payment (or credit) settled which charge."""

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    charge_id: Mapped[str] = mapped_column(ForeignKey("charges.id"), index=True)
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"), index=True, nullable=True)
    credit_id: Mapped[str | None] = mapped_column(ForeignKey("credits.id"), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Money)


class Credit(Base):
    """An amount taken off what is owed without money received: a waiver, a correction, a refunded deposit."""

    __tablename__ = "credits"
    __table_args__ = (Index("ix_credits_prepaid", "site_id", postgresql_where=text("unallocated > 0"),
                            sqlite_where=text("unallocated > 0")),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    unallocated: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MonthClose(Base):
    """A site's month closed (月结): its figures as they stood, and no payment dated in it posted or voided
    after."""

    __tablename__ = "month_closes"
    __table_args__ = (UniqueConstraint("site_id", "month"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    # "2027-01".
    month: Mapped[str] = mapped_column(String(7))
    charged: Mapped[Decimal] = mapped_column(Money)
    received: Mapped[Decimal] = mapped_column(Money)
    receipts: Mapped[int] = mapped_column(Integer)
    voided: Mapped[int] = mapped_column(Integer)
    # Open charges at the site when it closed, whatever their period.
    outstanding: Mapped[Decimal] = mapped_column(Money)
    closed_by: Mapped[str] = mapped_column(String(200))
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReceiptCounter(Base):
    """The site's next receipt number. Taken under a row lock in the payment's transaction, so numbers have
    no gaps and are never given twice."""

    __tablename__ = "receipt_counters"

    site_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer)


class ChargeRequest(Base):
    """Occupants' request for move-in or decoration charges: raised once, settled once."""

    __tablename__ = "charge_requests"

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[str] = mapped_column(String(36))
    unit_id: Mapped[str] = mapped_column(String(36))
    purpose: Mapped[str] = mapped_column(String(20))
    reference_id: Mapped[str] = mapped_column(String(36))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PaymentGateway(Base):
    """An online-payment provider posting signed webhooks (Standard Webhooks) for a site."""

    __tablename__ = "payment_gateways"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    site_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(100))
    # "whsec_" + base64 of the shared key.
    secret: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """A webhook id already accepted: the same call again is a replay."""

    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(ForeignKey("payment_gateways.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
