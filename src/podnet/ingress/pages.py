"""The status lines and error pages the controller answers with itself.

ingress-nginx answers its own responses (404 from the default backend, 503 for a Service without
endpoints, 308 to HTTPS, 502/504 when a backend fails…) with nginx's built-in pages; podnet sends
the same status lines and bodies so that what a client sees does not depend on which of the two
answered. Reason phrases are nginx's (``ngx_http_status_lines``: "Moved Temporarily",
"Service Temporarily Unavailable", "Gateway Time-out"…); bodies are nginx's ``error_page``
defaults with ``server_tokens off``.
"""

from __future__ import annotations

REASONS: dict[int, str] = {
    100: "Continue",
    101: "Switching Protocols",
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Not Allowed",
    408: "Request Time-out",
    411: "Length Required",
    413: "Request Entity Too Large",
    414: "Request-URI Too Large",
    431: "Request Header Fields Too Large",
    494: "Request Header Or Cookie Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
    505: "HTTP Version Not Supported",
}

#: nginx's page titles differ from its status lines for a few codes
_TITLES = {302: "302 Found", 494: "400 Request Header Or Cookie Too Large"}

_TAIL = b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"


def reason(status: int) -> str:
    return REASONS.get(status, "Unknown")


def status_line(status: int) -> bytes:
    """``HTTP/1.1 404 Not Found\\r\\n`` (494 goes out as 400, as nginx sends it)."""
    code = 400 if status == 494 else status
    return f"HTTP/1.1 {code} {reason(status)}\r\n".encode("latin-1")


def error_page(status: int) -> bytes:
    """nginx's HTML page for a status it answers itself."""
    title = _TITLES.get(status, f"{status} {reason(status)}")
    head = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n"
    )
    return head.encode("latin-1") + _TAIL
