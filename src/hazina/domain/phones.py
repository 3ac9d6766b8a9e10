"""Phone numbers as every provider and channel takes them: parsed and normalised to E.164.

One helper for the whole hub (USSD pushes, payment links, payouts, notifications), so a number
that works for one feature works for all. `phonenumbers` (Google's libphonenumber metadata) knows
each country's lengths and prefixes, which a regular expression would only approximate.
"""

import phonenumbers


def normalise_phone(raw: str, *, region: str | None = None) -> str:
    """`raw` as E.164 (`+255712345678`). A national number (`0712 345 678`) needs the ISO 3166
    `region` it is dialled in (`TZ`); a number with its country code (`+255…`, `255…` is not
    one) needs none. Raises ValueError saying what is wrong, for a 400 naming the field."""
    text = raw.strip()
    if not text:
        raise ValueError("is empty")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise ValueError(_PARSE_ERRORS.get(error.error_type, "is not a phone number")) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: (
        "needs its country code (+…) or a known country"
    ),
    phonenumbers.NumberParseException.NOT_A_NUMBER: "is not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "is too short",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "is too short",
    phonenumbers.NumberParseException.TOO_LONG: "is too long",
}
