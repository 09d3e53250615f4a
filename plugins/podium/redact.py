"""Redaction of secrets from what is shown of a connection: URLs, free text, nested extras (pure).

What is removed:

* a URL's userinfo (``https://user:pw@host`` -> ``https://host``), also when the password holds
  unencoded ``@ / ? #`` characters, and from scheme-less hosts (``user:pw@db.local`` -> ``db.local``).
  One form stays ambiguous: ``https://u:12/34@h`` (a digits-only password with a ``/``) reads as host
  ``u``, port 12, path ``/34@h``; a connection's own password is caught by :func:`scrub` anyway;
* every query value and the fragment (``?X-Amz-Signature=abc&x=1`` -> ``?X-Amz-Signature=***&x=***``):
  which parameters are secret differs by service (``sig``, ``sv``, ``token``, ``X-Amz-Credential``),
  so none is trusted;
* in free text: every URL in it as above, ``user:pw@host`` and ``password=...`` / ``"token": "..."``
  pairs whose key looks secret;
* in nested data: the whole value of every key that looks secret (``password``, ``aws_secret_access_key``,
  ``client_key``, ``auth``, ``cookie`` ...), whatever it holds;
* known secret strings (a connection's password) wherever they still occur (:func:`scrub`).

No Airflow import, no network: plain data in, plain data out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

MASK = "***"

# Airflow's secrets masker leaves shorter secrets alone too ([logging] min_length_masked_secret):
# masking "etl" would mangle every "etl" in a report without hiding anything.
MIN_SCRUBBED_LENGTH = 5

# A key holding one of these anywhere (any case, any separators) names a secret: "password",
# "aws_secret_access_key", "apiKey", "X-Amz-Signature", "client-key-data", "oauth2_token", "Cookie".
_SECRET_PARTS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "private",
    "auth",
    "cookie",
    "session",
    "signature",
    "bearer",
    "jwt",
)
# Short words that name a secret only as a whole word ("sig" but not "design", "pin" but not "spinner").
_SECRET_WORDS = frozenset({"sig", "sas", "otp", "pin", "pem", "salt", "cred", "creds"})

_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*://"
_URL_IN_TEXT = re.compile(rf"{_SCHEME}[^\s<>\"'`]+")
_WHOLE_URL = re.compile(rf"{_SCHEME}\S*")
# A host[:port] that needs no userinfo to make sense of it (so an "@" later is part of the path).
_AUTHORITY = re.compile(r"(?:\[[0-9A-Fa-f:.]*\]|[A-Za-z0-9._~%\-]*)(?::\d*)?")
# "user:pw@host" outside a URL (a DSN without scheme, a host field).
_USERINFO_IN_TEXT = re.compile(r"(?<![\w.\-/@:%])[\w.\-~%]+:[^\s@/]*@(?=[\w\[])")
# key=value, key: value, "key": "value" whose key looks secret.
_SECRET_PAIR = re.compile(
    r"""(?<![\w.\-/@%])(?P<key>["']?[A-Za-z0-9_.\-]+["']?)(?P<sep>\s*[:=]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|(?:(?:Basic|Bearer|Digest|Token)\s+)?[^\s,;&}\]]+)"""
)


def is_secret_key(key: str) -> bool:
    """Whether a setting named ``key`` probably holds a secret (its value is then never shown).

    Errs on the side of masking: ``passive`` or ``keyspace`` are masked too.
    """
    lowered = key.lower()
    if any(part in lowered for part in _SECRET_PARTS):
        return True
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", key)
    return any(word.lower() in _SECRET_WORDS for word in words)


def redact_url(url: str) -> str:
    """``url`` without userinfo, with every query value and the fragment masked.

    A string that is not ``scheme://...`` is returned unchanged (see :func:`redact_host`).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    return f"{scheme}://{_redact_location(rest)}"


def redact_host(host: str) -> str:
    """A connection's host: a URL, or ``[user[:pw]@]host[:port][/path][?query]`` without a scheme."""
    if "://" in host:
        return redact_text(host)
    return _redact_location(host)


def redact_text(text: str) -> str:
    """Free text (a schema, a log line, an extra's value) with the secrets in it masked."""
    if _WHOLE_URL.fullmatch(text):  # the whole value is one URL: quotes in a password stay inside it
        return redact_url(text)
    text = _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
    text = _USERINFO_IN_TEXT.sub("", text)
    return _SECRET_PAIR.sub(_mask_pair, text)


def redact_value(value: Any) -> Any:
    """Nested data (an extra's value) with secret-looking keys masked and every string redacted."""
    if isinstance(value, Mapping):
        return {key: MASK if is_secret_key(str(key)) else redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def scrub(value: Any, secrets: Iterable[str | None]) -> Any:
    """``value`` (nested data) with every occurrence of a known secret, plain or %-encoded, masked."""
    needles = sorted(
        {
            form
            for secret in secrets
            if secret and len(secret) >= MIN_SCRUBBED_LENGTH
            for form in _forms(secret)
        },
        key=len,
        reverse=True,
    )
    return _scrub(value, needles) if needles else value


def _scrub(value: Any, needles: list[str]) -> Any:
    if isinstance(value, Mapping):
        return {key: _scrub(item, needles) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item, needles) for item in value]
    if isinstance(value, str):
        for needle in needles:
            value = value.replace(needle, MASK)
    return value


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret, safe="/"), quote(secret, safe="~")}


def _redact_location(rest: str) -> str:
    """``[userinfo@]host[:port][/path][?query][#fragment]`` without userinfo, query values, fragment."""
    rest = _strip_userinfo(rest)
    before_fragment, hash_mark, fragment = rest.partition("#")
    location, question_mark, query = before_fragment.partition("?")
    if question_mark:
        location += "?" + _mask_query(query)
    if hash_mark:
        location += "#" + (MASK if fragment else "")
    return location


def _strip_userinfo(rest: str) -> str:
    if "@" not in rest:
        return rest
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:end]
    if "@" not in authority and _AUTHORITY.fullmatch(authority):
        return rest  # a plain host[:port]: the "@" is in the path ("registry.example/@scope/pkg")
    # Userinfo. A password may hold unencoded "@ / ? #" ("u:p@ss/w#rd@host"), so everything up to the
    # last "@" goes: when an "@" also sits in the path, less is shown, never a secret.
    return rest[rest.rindex("@") + 1 :]


def _mask_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        if equals:
            parts.append(f"{name}={MASK if value else ''}")
        else:
            parts.append(MASK if part else "")
    return "&".join(parts)


def _mask_pair(match: re.Match[str]) -> str:
    key = match.group("key")
    if not is_secret_key(key.strip("\"'")) or match.group("value") == MASK:
        return match.group(0)
    value = match.group("value")
    quote_mark = value[0] if value[:1] in {'"', "'"} else ""
    return f"{key}{match.group('sep')}{quote_mark}{MASK}{quote_mark}"
