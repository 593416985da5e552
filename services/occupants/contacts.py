"""Phone numbers and e-mail addresses as the platform stores them, checked with maintained libraries."""

from __future__ import annotations

import email_validator
import phonenumbers

from shared.problems import Problem

# Numbers written without a country code are Chinese ones (SPEC: the seeds' sites are in China).
DEFAULT_REGION = "CN"


def phone(value: str, field: str = "phone") -> str:
    """The number in E.164 ("+8613800000001"); "" stays ""; anything not a valid number is a 422."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Problem(422, "Unprocessable Content", f"Not a valid phone number: {value!r}.", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email(value: str, field: str = "email") -> str:
    """The address in normalized form; "" stays ""; a malformed address is a 422. Deliverability (DNS) is
    not checked: a request must not wait on the network."""
    if not value:
        return ""
    try:
        return email_validator.validate_email(value, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as exc:
        raise Problem(422, "Unprocessable Content", f"Not a valid e-mail address: {exc}", field=field) from exc
