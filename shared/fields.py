"""Request and response fields whose OpenAPI documentation says exactly what travels on the wire."""

from __future__ import annotations

import datetime
import decimal

from marshmallow import ValidationError, fields


class DecimalString(fields.Decimal):
    """An exact decimal (money, areas, meter readings: X-6) carried as a string such as "89.50".

    Documented as a string with a pattern, never as a float. Input may be a string or a JSON number; it is
    refused, not rounded, when it has more decimal places than the column keeps, more digits than fit, or
    falls outside the bounds.
    """

    def __init__(self, *, places: int = 2, max_digits: int = 10, minimum: decimal.Decimal | int | None = None,
                 exclusive_minimum: bool = False, maximum: decimal.Decimal | int | None = None, **kwargs):
        self.max_digits = max_digits
        # marshmallow keeps `places` as a quantum (Decimal("0.01")); the checks need the count.
        self.decimal_places = places
        self.minimum = None if minimum is None else decimal.Decimal(minimum)
        self.exclusive_minimum = exclusive_minimum
        self.maximum = None if maximum is None else decimal.Decimal(maximum)
        sign = "" if self.minimum is not None and self.minimum >= 0 else "-?"
        whole = max_digits - places
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if exclusive_minimum else '≥'} {self.minimum}")
        if self.maximum is not None:
            bounds.append(f"≤ {self.maximum}")
        metadata = {
            "type": "string",
            "pattern": rf"^{sign}[0-9]{{1,{whole}}}(\.[0-9]{{1,{places}}})?$",
            "description": f"Exact decimal as a string, up to {places} decimal places"
                           + (f", {' and '.join(bounds)}" if bounds else "") + ".",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(places=places, as_string=True, allow_nan=False, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        try:
            exact = decimal.Decimal(str(value).strip()) if isinstance(value, (str, int, float)) else None
        except decimal.InvalidOperation:
            exact = None
        if exact is None or not exact.is_finite():
            raise self.make_error("invalid")
        if exact.as_tuple().exponent < -self.decimal_places:
            raise ValidationError(f"At most {self.decimal_places} decimal places.")
        if exact.copy_abs() >= decimal.Decimal(10) ** (self.max_digits - self.decimal_places):
            raise ValidationError(f"At most {self.max_digits - self.decimal_places} digits before the decimal point.")
        if self.minimum is not None and (exact < self.minimum or (self.exclusive_minimum and exact == self.minimum)):
            raise ValidationError(f"Must be {'greater than' if self.exclusive_minimum else 'at least'} {self.minimum}.")
        if self.maximum is not None and exact > self.maximum:
            raise ValidationError(f"Must be at most {self.maximum}.")
        return exact.quantize(self.places)


class UtcDateTime(fields.DateTime):
    """A stored time shown in ISO 8601 with its offset. SQLite hands stored times back without one (they are
    UTC), PostgreSQL with one; both answer the same."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)
