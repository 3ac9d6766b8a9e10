"""Hiding credentials inside URLs before they are stored or shown (audit rows, Settings' repr).

`https://user:pass@host/…` keeps its user and loses its password; query parameters whose names
say they carry a credential (token, key, secret, signature, password, …) keep their name and
lose their value. Anything that does not parse as a URL with a scheme is returned unchanged.
"""

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# Matched against a query parameter's lower-cased name: access_token, api_key, sig, X-Signature…
_SECRET_NAME = re.compile(r"token|key|secret|sig|signature|password|passwd|pwd|auth|credential")


def redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if parts.password is not None:
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 literal keeps its brackets
            host = f"[{host}]"
        netloc = f"{parts.username or ''}:{MASK}@{host}" + (f":{port}" if port else "")
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_NAME.search(name.lower()) for name, _ in pairs):
            query = urlencode(
                [
                    (name, MASK if _SECRET_NAME.search(name.lower()) else value)
                    for name, value in pairs
                ],
                safe="*",
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
