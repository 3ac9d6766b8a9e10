import pytest

from hazina.domain.phones import normalise_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("0712 345 678", "TZ", "+255712345678"),
        ("+255 712 345 678", None, "+255712345678"),
        ("+255712345678", "ZW", "+255712345678"),
        ("0771111111", "ZW", "+263771111111"),
        (" +263-77-222-2222 ", None, "+263772222222"),
    ],
)
def test_numbers_become_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalise_phone(raw, region=region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "TZ", "is empty"),
        ("0712345678", None, "needs its country code"),
        ("not a phone", "TZ", "is not a phone number"),
        ("+2557", None, "is too short"),
        ("+255 999 999 999", None, "is not a valid phone number"),
    ],
)
def test_bad_numbers_say_why(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalise_phone(raw, region=region)
