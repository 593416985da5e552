"""Phone numbers and e-mail addresses as the platform stores them, checked with maintained libraries."""

from __future__ import annotations

import email_validator
import phonenumbers

from shared.problems import unprocessable

# Numbers written without a country code are Chinese ones (SPEC: the seeds' sites are in China).
DEFAULT_REGION = "CN"


def normalise_phone(raw: str) -> str:
    """E.164 ("+8613800000001"); a number without a country code is read as Chinese. ValueError if invalid."""
    try:
        number = phonenumbers.parse(raw, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError("Not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """Syntax only: whether a mailbox exists is the mail gateway's concern, and a request must not wait on
    the network for it. ValueError if malformed."""
    try:
        return email_validator.validate_email(raw, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"Not a valid e-mail address: {exc}") from None


def phone(value: str, field: str = "phone") -> str:
    """`normalise_phone`, with "" staying "" and an invalid number a 422 naming the field."""
    if not value:
        return ""
    try:
        return normalise_phone(value)
    except ValueError:
        raise unprocessable(field, f"Not a valid phone number: {value!r}.") from None


def email(value: str, field: str = "email") -> str:
    """`normalise_email`, with "" staying "" and a malformed address a 422 naming the field."""
    if not value:
        return ""
    try:
        return normalise_email(value)
    except ValueError as exc:
        raise unprocessable(field, str(exc)) from None
