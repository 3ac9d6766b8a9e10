"""ClickPesa's v2 checksum rule, against the providers.md vector and the clickpesa-python-sdk."""

from clickpesa import SecurityManager

from hazina.domain.checksums import canonical_json, checksum_matches, compute_checksum

KEY = "secret-key"
VECTOR = {
    "amount": "1000",
    "currency": "TZS",
    "orderReference": "ORD123",
    "phoneNumber": "255712345678",
}
VECTOR_DIGEST = "99fd7367f82d4af014dbd4371f5cb4957c17b737540aaab238ed1fe44caf1b6c"


def test_the_documented_vector() -> None:
    assert compute_checksum(KEY, VECTOR) == VECTOR_DIGEST


def test_key_order_and_the_checksum_fields_do_not_matter() -> None:
    shuffled = dict(reversed(list(VECTOR.items())))
    signed = {**shuffled, "checksum": "anything", "checksumMethod": "canonical"}
    assert compute_checksum(KEY, signed) == VECTOR_DIGEST


def test_keys_are_sorted_at_every_level_and_arrays_keep_their_order() -> None:
    payload = {"b": [{"z": 1, "a": 2}, 3], "a": {"y": "1", "x": None}}
    assert canonical_json(payload) == '{"a":{"x":null,"y":"1"},"b":[{"a":2,"z":1},3]}'


def test_integral_floats_are_written_as_javascript_writes_them() -> None:
    assert canonical_json({"amount": 1000.0, "fee": 47.1}) == '{"amount":1000,"fee":47.1}'


def test_non_ascii_text_is_kept_as_is() -> None:
    assert canonical_json({"name": "Zoë"}) == '{"name":"Zoë"}'


def test_the_sdk_computes_the_same_digest_for_ascii_payloads() -> None:
    payload = {
        "event": "PAYMENT RECEIVED",
        "data": {
            "orderReference": "payAbc",
            "collectedAmount": "1000",
            "customer": {"b": 1, "a": [2, 1]},
        },
    }
    assert SecurityManager.create_checksum(KEY, payload) == compute_checksum(KEY, payload)
    assert SecurityManager.create_checksum(KEY, VECTOR) == VECTOR_DIGEST


def test_the_sdk_escapes_non_ascii_text_where_the_documented_rule_does_not() -> None:
    # The SDK serialises with json.dumps' default ensure_ascii=True ("Zo\u00eb"); the docs ask
    # for JSON.stringify's output ("Zoë"). Only payloads with non-ASCII text tell them apart.
    payload = {"customerName": "Zoë"}
    assert SecurityManager.create_checksum(KEY, payload) != compute_checksum(KEY, payload)


def test_matching_is_constant_time_tolerant_of_case_and_refuses_garbage() -> None:
    assert checksum_matches(KEY, VECTOR, VECTOR_DIGEST.upper())
    assert not checksum_matches(KEY, VECTOR, VECTOR_DIGEST[:-1] + "0")
    assert not checksum_matches("other-key", VECTOR, VECTOR_DIGEST)
    assert not checksum_matches(KEY, VECTOR, "é" * 64)
    assert not checksum_matches(KEY, VECTOR, "")
